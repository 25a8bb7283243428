// The duplicates page (duplicates.mustache): keeping one photo of a group takes the others out
// of the project.
import { csrfHeaders, element, problemText, startPage, toast } from "./common.js";

function setUpDuplicates() {
  for (const button of document.querySelectorAll("button[data-keep]")) {
    button.addEventListener("click", async () => {
      if (!confirm("Keep this photo and take the other copies out of the project?")) return;
      const group = button.closest(".duplicate-group");
      for (const other of group.querySelectorAll("button")) other.disabled = true;
      const remove = button.dataset.remove.split(",").filter(Boolean);
      const answer = await fetch("/api/v1/projects/" + button.dataset.project + "/duplicates/merge", {
        method: "POST", headers: csrfHeaders({ "Content-Type": "application/json" }),
        body: JSON.stringify({ keep: button.dataset.keep, remove }) });
      if (!answer.ok) {
        for (const other of group.querySelectorAll("button")) other.disabled = false;
        toast(await problemText(answer), true);
        return;
      }
      const body = await answer.json();
      group.replaceChildren();
      group.append(element("p", "Kept one photo, removed " + body.removed.length +
        (body.labels.length ? "; its labels: " + body.labels.map((label) => label.name).join(", ") : ""), "muted kept"));
      toast("Kept one photo; " + body.removed.length + " removed from the project");
    });
  }
}

startPage();
setUpDuplicates();
