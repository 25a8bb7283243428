// The project page (project.mustache): uploading photos through the offline queue, and the
// owner's contributor links.
import { csrfHeaders, offlineQueue, problemText, startPage, toast } from "./common.js";

// Photos are chosen (or dropped), a label picked, and nothing is sent until Upload is pressed,
// so the label chosen after the photos is the one they get.
function setUpUpload() {
  const zone = document.getElementById("upload");
  if (!zone) return;
  const input = document.getElementById("files");
  const list = document.getElementById("progress");
  const button = document.getElementById("upload-button");
  const projectId = zone.dataset.project;
  // What the last upload did, shown again after the page reloads to show the new photos.
  const summary = document.getElementById("upload-summary");
  const kept = sessionStorage.getItem("iris-upload-summary");
  if (summary && kept) { summary.textContent = kept; sessionStorage.removeItem("iris-upload-summary"); }
  const queue = offlineQueue("/api/v1/projects/" + projectId + "/images", "/api/v1/projects/" + projectId + "/images/check",
    list, (sent, refused, notes) => {
      const text = [sent + " of " + (sent + refused) + " uploaded."].concat(notes).join(" ");
      toast(text, refused > 0);
      if (summary) summary.textContent = text;
      if (sent > 0) {
        sessionStorage.setItem("iris-upload-summary", text);
        setTimeout(() => location.reload(), 600);
      }
    });
  let dropped = [];
  function chosen() { return dropped.length ? dropped : Array.from(input.files); }
  function showChosen() {
    const count = chosen().length;
    button.textContent = count ? "Upload " + count + (count === 1 ? " photo" : " photos") : "Upload";
  }
  button.addEventListener("click", () => {
    const files = chosen();
    if (!files.length) { toast("Choose photos first", true); return; }
    const label = (document.getElementById("label") || {}).value || "";
    queue.add(files, label);
    dropped = [];
    input.value = "";
    showChosen();
  });
  input.addEventListener("change", () => { dropped = []; showChosen(); });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    dropped = Array.from(event.dataTransfer.files);
    showChosen();
  });
}

// Owners make contributor links here.
function setUpCreateLink() {
  const form = document.getElementById("create-link");
  const zone = document.getElementById("upload");
  if (!form || !zone) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = { name: data.get("name") || "contributors" };
    const labels = String(data.get("label_choices") || "").split(",").map((s) => s.trim()).filter(Boolean);
    if (labels.length) body.label_choices = labels;
    if (data.get("max_uploads")) body.max_uploads = Number(data.get("max_uploads"));
    if (data.get("expires_in_days")) body.expires_in_days = Number(data.get("expires_in_days"));
    const response = await fetch("/api/v1/projects/" + zone.dataset.project + "/links", {
      method: "POST", headers: csrfHeaders({ "Content-Type": "application/json" }), body: JSON.stringify(body),
    });
    if (!response.ok) { toast(await problemText(response), true); return; }
    const created = await response.json();
    const anchor = document.getElementById("new-link-url");
    anchor.href = created.url;
    anchor.textContent = location.origin + created.url;
    document.getElementById("new-link").hidden = false;
  });
}

startPage();
setUpUpload();
setUpCreateLink();
