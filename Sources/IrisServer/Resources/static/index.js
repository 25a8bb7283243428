// The projects page (index.mustache): a new project is made from its form.
import { busy, csrfHeaders, problemText, startPage, toast } from "./common.js";

function setUpCreateProject() {
  const form = document.getElementById("create-project");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = { name: data.get("name"), description: data.get("description") || "" };
    const labels = String(data.get("label_set") || "").split(",").map((s) => s.trim()).filter(Boolean);
    if (labels.length) body.label_set = labels;
    let response;
    try {
      response = await busy(form, fetch("/api/v1/projects", {
        method: "POST", headers: csrfHeaders({ "Content-Type": "application/json" }), body: JSON.stringify(body),
      }));
    } catch (_) {
      toast("The server cannot be reached; try again in a moment.", true);
      return;
    }
    if (response.ok) {
      const project = await response.json();
      location.href = "/projects/" + project.id;
    } else {
      toast(await problemText(response), true);
    }
  });
}

startPage();
setUpCreateProject();
