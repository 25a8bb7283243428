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
  // "N uploads left" follows what was sent, without a reload.
  const left = document.getElementById("uploads-left");
  const queue = offlineQueue(base, base + "/check", list, (sent, refused) => {
    toast(sent + " of " + (sent + refused) + " uploaded. Thank you!", refused > 0);
    if (left && sent > 0) {
      const remaining = Math.max(0, Number(left.dataset.left) - sent);
      left.dataset.left = String(remaining);
      left.textContent = remaining + (remaining === 1 ? " upload" : " uploads") + " left on this link.";
    }
    offerForget();
  }, true);
  // On a shared phone the next person need not see the file names sent before.
  const forget = document.getElementById("forget-sent");
  const offerForget = () => { forget.hidden = !queue.remembers; };
  offerForget();
  forget.addEventListener("click", () => { queue.forget(); offerForget(); toast("Forgotten on this device"); });
  const choice = document.getElementById("link-label");
  input.addEventListener("change", async () => {
    // A link that offers labels wants one: "(choose)" is not an answer.
    if (choice && !choice.value) {
      toast("Choose what is in the photo first, then take or choose the photos again.", true);
      input.value = "";
      choice.focus();
      return;
    }
    await queue.add(Array.from(input.files), choice ? choice.value : "");
    input.value = "";
  });
}

startPage();
setUpLinkUpload();
