// The repairs page (repairs.mustache): an owner's switch for the project's default use of
// similar photos.
import { csrfHeaders, problemText, startPage, toast } from "./common.js";

function setUpRepairDefault() {
  const box = document.getElementById("repair-domain-default");
  if (!box) return;
  box.addEventListener("change", async () => {
    const answer = await fetch("/api/v1/projects/" + box.dataset.project, {
      method: "PATCH", headers: csrfHeaders({ "Content-Type": "application/json" }), body: JSON.stringify({ repair_domain: box.checked }) });
    if (answer.ok) toast(box.checked ? "Repairs now use similar photos unless they say" : "Repairs now use the photo alone unless they say");
    else { box.checked = !box.checked; toast(await problemText(answer), true); }
  });
}

startPage();
setUpRepairDefault();
