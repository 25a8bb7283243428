// Repair mode of the photo page (repair-editor.mustache): a dialog over the page, the size of
// the screen, with the photo fitted to it. Brush a mask over the photo (mouse, pen or touch:
// pointer events), Go queues a repair job, its progress shows, and the result takes the photo's
// place, fitted the same way, with a before/after slider, to keep or discard. The tools and Go
// sit outside the part that scrolls when zoomed in, so they are always in view.
import { csrfHeaders, element, problemText, toast } from "./common.js";

export function setUpRepair() {
  const dialog = document.getElementById("repair");
  const open = document.getElementById("repair-open");
  if (!dialog || !open) return;
  const byId = (id) => document.getElementById(id);
  const photo = byId("repair-photo");
  const canvas = byId("repair-canvas");
  const stage = byId("repair-stage");
  const edit = byId("repair-edit");
  const sizeInput = byId("repair-size");
  const undoButton = byId("repair-undo");
  const redoButton = byId("repair-redo");
  const goButton = byId("repair-go");
  const zoomLevel = byId("repair-zoom-level");
  const status = byId("repair-status");
  const bar = byId("repair-progress");
  const ctx = canvas.getContext("2d");
  const strokes = [];
  const undone = [];
  let zoom = 1;
  let fitted = true;  // the zoom follows the screen until the user zooms
  let current = null;

  function tool() { return document.querySelector("input[name=repair-tool]:checked").value; }

  function paint(context, stroke, scale) {
    context.save();
    context.globalCompositeOperation = stroke.tool === "eraser" ? "destination-out" : "source-over";
    context.strokeStyle = context.fillStyle = stroke.colour || "#ff2bd6";
    context.lineCap = context.lineJoin = "round";
    context.lineWidth = stroke.size * scale;
    const [first, ...rest] = stroke.points;
    if (rest.length === 0) {
      context.beginPath();
      context.arc(first[0] * scale, first[1] * scale, stroke.size * scale / 2, 0, 2 * Math.PI);
      context.fill();
    } else {
      context.beginPath();
      context.moveTo(first[0] * scale, first[1] * scale);
      for (const [x, y] of rest) context.lineTo(x * scale, y * scale);
      context.stroke();
    }
    context.restore();
  }

  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    for (const stroke of strokes) paint(ctx, stroke, 1);
    undoButton.disabled = strokes.length === 0;
    redoButton.disabled = undone.length === 0;
    goButton.disabled = !strokes.some((stroke) => stroke.tool === "brush");
  }

  // The zoom shown is of the photo itself (the editor draws on a thumbnail of at most 1024 px).
  function applyZoom() {
    photo.style.width = Math.round(photo.naturalWidth * zoom) + "px";
    const original = Number(dialog.dataset.width) || photo.naturalWidth;
    zoomLevel.textContent = Math.round(100 * photo.naturalWidth * zoom / original) + "%";
  }

  // The largest size, at most the image's own (a small photo is not blown up: zoom in for
  // that), at which the whole of an image of width × height fits the room the box may take:
  // the photo never starts bigger than the screen. (The box grows to that room only while
  // measured; otherwise it is as tall as what it holds.)
  function fitScale(box, width, height) {
    dialog.classList.add("measuring");
    const scale = Math.min(1, (box.clientWidth - 2) / width, (box.clientHeight - 2) / height);
    dialog.classList.remove("measuring");
    return scale;
  }

  function fit() {
    if (!photo.naturalWidth || edit.hidden) return;
    fitted = true;
    zoom = fitScale(stage, photo.naturalWidth, photo.naturalHeight);
    applyZoom();
  }

  function ready() {
    if (canvas.width !== photo.naturalWidth || canvas.height !== photo.naturalHeight) {
      canvas.width = photo.naturalWidth;
      canvas.height = photo.naturalHeight;
      redraw();
    }
    fit();
  }

  open.addEventListener("click", () => {
    dialog.showModal();
    if (photo.complete && photo.naturalWidth) ready(); else photo.addEventListener("load", ready, { once: true });
  });
  byId("repair-close").addEventListener("click", () => dialog.close());

  function point(event) {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
  }
  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    const box = canvas.getBoundingClientRect();
    current = { tool: tool(), size: Number(sizeInput.value) * canvas.width / box.width, points: [point(event)] };
    strokes.push(current);
    undone.length = 0;
    redraw();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!current) return;
    event.preventDefault();
    current.points.push(point(event));
    redraw();
  });
  const finish = () => { current = null; };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);

  undoButton.addEventListener("click", () => { if (strokes.length) { undone.push(strokes.pop()); redraw(); } });
  redoButton.addEventListener("click", () => { if (undone.length) { strokes.push(undone.pop()); redraw(); } });
  byId("repair-clear").addEventListener("click", () => { strokes.length = 0; undone.length = 0; redraw(); });
  byId("repair-zoom-in").addEventListener("click", () => { fitted = false; zoom = Math.min(4, zoom * 1.25); applyZoom(); });
  byId("repair-zoom-out").addEventListener("click", () => { fitted = false; zoom = Math.max(0.1, zoom / 1.25); applyZoom(); });
  byId("repair-zoom-fit").addEventListener("click", fit);

  // The mask at the photo's full size: the strokes replayed in white on black.
  function maskBlob() {
    const width = Number(dialog.dataset.width), height = Number(dialog.dataset.height);
    const scale = width / canvas.width;
    const layer = element("canvas");
    layer.width = width;
    layer.height = height;
    const layerContext = layer.getContext("2d");
    for (const stroke of strokes) paint(layerContext, Object.assign({}, stroke, { colour: "#fff" }), scale);
    const mask = element("canvas");
    mask.width = width;
    mask.height = height;
    const maskContext = mask.getContext("2d");
    maskContext.fillStyle = "#000";
    maskContext.fillRect(0, 0, width, height);
    maskContext.drawImage(layer, 0, 0);
    return new Promise((resolve) => mask.toBlob(resolve, "image/png"));
  }

  // The result, in the photo's place: before drawn over after, clipped to the slider's share.
  const result = byId("repair-result");
  const compareStage = byId("repair-compare-stage");
  const after = byId("repair-after");
  const beforeClip = byId("repair-before-clip");
  const before = byId("repair-before");
  const slider = byId("repair-slider");
  const keep = byId("repair-keep");
  function fitCompare() {
    if (result.hidden || !after.naturalWidth) return;
    const scale = fitScale(compareStage, after.naturalWidth, after.naturalHeight);
    const [width, height] = [Math.round(after.naturalWidth * scale), Math.round(after.naturalHeight * scale)];
    after.style.width = before.style.width = width + "px";
    before.style.height = height + "px";
  }
  function slide() {
    beforeClip.style.width = slider.value + "%";
    slider.setAttribute("aria-valuetext", slider.value + "% before, " + (100 - slider.value) + "% after");
  }
  after.addEventListener("load", fitCompare);
  slider.addEventListener("input", slide);
  window.addEventListener("resize", () => { if (fitted) fit(); fitCompare(); });

  function projectName() {
    const chosen = projectChoice.tagName === "SELECT" ? projectChoice.selectedOptions[0] : projectChoice;
    return chosen ? chosen.dataset.name || chosen.textContent : "the project";
  }

  function showEditor() {
    result.hidden = true;
    edit.hidden = false;
    fit();
  }

  function showResult(sha256) {
    edit.hidden = true;
    result.hidden = false;
    byId("repair-joined").textContent = "The repaired photo has already joined " + projectName() +
      ": a repair's result is added as soon as it is ready. Keep leaves it there and opens it; Discard takes it out again, and you can brush again.";
    keep.href = "/images/" + sha256;
    slide();
    after.src = "/api/v1/images/" + sha256 + "/thumbnail?size=1024";
    if (after.complete && after.naturalWidth) fitCompare();
    slider.focus();
  }

  let repairID = null;

  async function follow(id) {
    let response;
    try {
      response = await fetch("/api/v1/repairs/" + id);
    } catch (_) {
      // The network went away: say so and keep asking; the repair goes on without the page.
      status.textContent = "Waiting for the network…";
      setTimeout(() => follow(id), 3000);
      return;
    }
    if (!response.ok) { status.textContent = await problemText(response); goButton.disabled = false; return; }
    const repair = await response.json();
    bar.value = repair.progress || 0;
    if (repair.state === "succeeded") {
      bar.hidden = true;
      status.textContent = "Repaired in " + (repair.timings ? repair.timings.seconds.toFixed(1) + " s" : "a moment") + ".";
      goButton.disabled = false;
      showResult(repair.result_sha256);
      if (!dialog.open) toast("The repair is done");
    } else if (repair.state === "failed") {
      bar.hidden = true;
      status.textContent = "The repair failed: " + (repair.error || "unknown error");
      if (!dialog.open) toast(status.textContent, true);
      goButton.disabled = false;
    } else {
      status.textContent = repair.state === "queued" ? "Waiting for a worker…" : "Repairing… " + Math.round((repair.progress || 0) * 100) + "%";
      setTimeout(() => follow(id), 800);
    }
  }

  // The similar-photos box starts at the chosen project's default (its repair_domain).
  const projectChoice = byId("repair-project");
  const domainBox = byId("repair-domain");
  const projectDefault = () => {
    const chosen = projectChoice.tagName === "SELECT" ? projectChoice.selectedOptions[0] : projectChoice;
    domainBox.checked = chosen && chosen.dataset.domain === "true";
  };
  projectDefault();
  projectChoice.addEventListener("change", projectDefault);

  goButton.addEventListener("click", async () => {
    goButton.disabled = true;
    status.textContent = "Sending the mask…";
    bar.hidden = false;
    bar.value = 0;
    const form = new FormData();
    form.append("mask", await maskBlob(), "mask.png");
    form.append("project_id", projectChoice.value);
    form.append("domain", domainBox.checked ? "true" : "false");
    const method = byId("repair-method");
    if (method) form.append("method", method.value);
    let response;
    try {
      response = await fetch("/api/v1/images/" + dialog.dataset.sha256 + "/repairs", { method: "POST", headers: csrfHeaders(), body: form });
    } catch (_) {
      bar.hidden = true;
      status.textContent = "The server cannot be reached; nothing was sent. Try Go again in a moment.";
      goButton.disabled = false;
      return;
    }
    if (response.status !== 202) {
      bar.hidden = true;
      status.textContent = await problemText(response);
      goButton.disabled = false;
      return;
    }
    const repair = await response.json();
    repairID = repair.id;
    follow(repair.id);
  });

  byId("repair-discard").addEventListener("click", async () => {
    if (repairID === null || !confirm("Discard this repair? Its result leaves the project.")) return;
    const response = await fetch("/api/v1/repairs/" + repairID + "/discard", { method: "POST", headers: csrfHeaders() });
    if (!response.ok) { status.textContent = await problemText(response); return; }
    repairID = null;
    status.textContent = "Discarded: the result left the project. Brush again, or close.";
    showEditor();
    goButton.focus();
  });
}
