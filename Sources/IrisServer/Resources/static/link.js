// The contributor link page (link.mustache, /l/<code>): no account, the link's code is the
// permission. Photos taken offline wait in the upload queue (common.js), and the service
// worker (sw.js) keeps this page, this module and common.js so it opens without a network.
import { offlineQueue, startPage, toast } from "./common.js";

function setUpLinkUpload() {
  const section = document.getElementById("link-upload");
  if (!section) return;
  const input = document.getElementById("link-files");
  const list = document.getElementById("progress");
  const base = "/api/v1/links/" + section.dataset.code + "/images";
  const queue = offlineQueue(base, base + "/check", list, (sent, refused) =>
    toast(sent + " of " + (sent + refused) + " uploaded. Thank you!", refused > 0));
  input.addEventListener("change", async () => {
    const label = (document.getElementById("link-label") || {}).value || "";
    await queue.add(Array.from(input.files), label);
    input.value = "";
  });
}

startPage();
setUpLinkUpload();
