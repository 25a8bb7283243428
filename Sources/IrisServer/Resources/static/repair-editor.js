// Repair mode of the photo page (repair-editor.mustache): brush a mask over the photo (mouse
// or touch), Go queues a repair job, its progress shows, and the result appears with a
// before/after slider, to keep or discard.
import { csrfHeaders, element, problemText, toast } from "./common.js";

export function setUpRepair() {
  const section = document.getElementById("repair");
  const open = document.getElementById("repair-open");
  if (!section || !open) return;
  const photo = document.getElementById("repair-photo");
  const canvas = document.getElementById("repair-canvas");
  const stage = document.getElementById("repair-stage");
  const sizeInput = document.getElementById("repair-size");
  const undoButton = document.getElementById("repair-undo");
  const redoButton = document.getElementById("repair-redo");
  const goButton = document.getElementById("repair-go");
  const status = document.getElementById("repair-status");
  const bar = document.getElementById("repair-progress");
  const ctx = canvas.getContext("2d");
  const strokes = [];
  const undone = [];
  let zoom = 1;
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

  function applyZoom() {
    photo.style.width = Math.round(photo.naturalWidth * zoom) + "px";
  }

  function ready() {
    canvas.width = photo.naturalWidth;
    canvas.height = photo.naturalHeight;
    // Fit the stage: small photos are shown larger (up to twice), large ones smaller.
    zoom = Math.min(2, (stage.clientWidth - 4) / photo.naturalWidth);
    applyZoom();
    redraw();
  }

  open.addEventListener("click", () => {
    section.hidden = false;
    if (photo.complete && photo.naturalWidth) ready(); else photo.addEventListener("load", ready, { once: true });
    section.scrollIntoView({ behavior: "smooth" });
  });

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
  document.getElementById("repair-clear").addEventListener("click", () => { strokes.length = 0; undone.length = 0; redraw(); });
  document.getElementById("repair-zoom-in").addEventListener("click", () => { zoom = Math.min(4, zoom * 1.25); applyZoom(); });
  document.getElementById("repair-zoom-out").addEventListener("click", () => { zoom = Math.max(0.1, zoom / 1.25); applyZoom(); });

  // The mask at the photo's full size: the strokes replayed in white on black.
  function maskBlob() {
    const width = Number(section.dataset.width), height = Number(section.dataset.height);
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

  const result = document.getElementById("repair-result");
  const after = document.getElementById("repair-after");
  const beforeClip = document.getElementById("repair-before-clip");
  const before = document.getElementById("repair-before");
  const slider = document.getElementById("repair-slider");
  const fitBefore = () => { before.style.width = after.clientWidth + "px"; };
  after.addEventListener("load", fitBefore);
  window.addEventListener("resize", fitBefore);
  slider.addEventListener("input", () => { beforeClip.style.width = slider.value + "%"; });
  let repairID = null;

  async function follow(id) {
    const response = await fetch("/api/v1/repairs/" + id);
    if (!response.ok) { status.textContent = await problemText(response); goButton.disabled = false; return; }
    const repair = await response.json();
    bar.value = repair.progress || 0;
    if (repair.state === "succeeded") {
      bar.hidden = true;
      status.textContent = "Repaired in " + (repair.timings ? repair.timings.seconds.toFixed(1) + " s" : "a moment") + ".";
      after.src = "/api/v1/images/" + repair.result_sha256 + "/thumbnail?size=1024";
      document.getElementById("repair-keep").href = "/images/" + repair.result_sha256;
      result.hidden = false;
      goButton.disabled = false;
      toast("The repair is done");
    } else if (repair.state === "failed") {
      bar.hidden = true;
      status.textContent = "The repair failed: " + (repair.error || "unknown error");
      toast(status.textContent, true);
      goButton.disabled = false;
    } else {
      status.textContent = repair.state === "queued" ? "Waiting for a worker…" : "Repairing… " + Math.round((repair.progress || 0) * 100) + "%";
      setTimeout(() => follow(id), 800);
    }
  }

  // The similar-photos box starts at the chosen project's default (its repair_domain).
  const projectChoice = document.getElementById("repair-project");
  const domainBox = document.getElementById("repair-domain");
  const projectDefault = () => {
    const chosen = projectChoice.tagName === "SELECT" ? projectChoice.selectedOptions[0] : projectChoice;
    domainBox.checked = chosen && chosen.dataset.domain === "true";
  };
  projectDefault();
  projectChoice.addEventListener("change", projectDefault);

  goButton.addEventListener("click", async () => {
    goButton.disabled = true;
    result.hidden = true;
    status.textContent = "Sending the mask…";
    bar.hidden = false;
    bar.value = 0;
    const form = new FormData();
    form.append("mask", await maskBlob(), "mask.png");
    form.append("project_id", document.getElementById("repair-project").value);
    form.append("domain", document.getElementById("repair-domain").checked ? "true" : "false");
    const method = document.getElementById("repair-method");
    if (method) form.append("method", method.value);
    const response = await fetch("/api/v1/images/" + section.dataset.sha256 + "/repairs", { method: "POST", headers: csrfHeaders(), body: form });
    if (response.status !== 202) {
      bar.hidden = true;
      status.textContent = await problemText(response);
      toast(status.textContent, true);
      goButton.disabled = false;
      return;
    }
    const repair = await response.json();
    repairID = repair.id;
    follow(repair.id);
  });

  document.getElementById("repair-discard").addEventListener("click", async () => {
    if (repairID === null || !confirm("Discard this repair? Its result leaves the project.")) return;
    const response = await fetch("/api/v1/repairs/" + repairID + "/discard", { method: "POST", headers: csrfHeaders() });
    if (response.ok) { result.hidden = true; status.textContent = "Discarded: the result left the project."; toast("Repair discarded"); }
    else toast(await problemText(response), true);
  });
}
