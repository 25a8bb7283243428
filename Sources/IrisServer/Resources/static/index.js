// The projects page (index.mustache): a new project is made from its form.
import { csrfHeaders, problemText, startPage, toast } from "./common.js";

function setUpCreateProject() {
  const form = document.getElementById("create-project");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = { name: data.get("name"), description: data.get("description") || "" };
    const labels = String(data.get("label_set") || "").split(",").map((s) => s.trim()).filter(Boolean);
    if (labels.length) body.label_set = labels;
    const response = await fetch("/api/v1/projects", {
      method: "POST", headers: csrfHeaders({ "Content-Type": "application/json" }), body: JSON.stringify(body),
    });
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
