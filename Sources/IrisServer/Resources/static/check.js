// "Check labels" (check.mustache): the label check's issues, likely mistakes first, fixed by
// keyboard or buttons, and the map of the project's photos on a canvas (one draw call per
// point, no DOM node per photo), coloured by the check, label, review state or learner answer,
// with a thumbnail on hover and box or lasso selection relabelled in one bulk change.
import { element, percent, problemText, sendJSON, startPage, toast } from "./common.js";

const POLL_MS = 2000;      // while a job computes the check or the layout
const ISSUES = 200;        // issues asked for
const HOVER_PX = 10;       // a point this close to the pointer shows its thumbnail
const PALETTE = ["#3557d6", "#e4572e", "#17a398", "#f2a541", "#8e44ad", "#2e86ab", "#c0392b", "#6a994e",
  "#d35db3", "#7f8c8d", "#b08d57", "#1b998b"];

const root = document.getElementById("check-page");
const project = root.dataset.project;
const api = "/api/v1/projects/" + project;
const labelSet = (root.dataset.labels || "").split("\n").map((name) => name.trim()).filter(Boolean);
const summary = document.getElementById("check-summary");
const list = document.getElementById("check-list");
const none = document.getElementById("check-none");
const keysButton = document.getElementById("check-keys");
const help = document.getElementById("check-help");

let issues = [];
let current = 0;
const undoStack = [];  // {operation, index} of fixes made on this page


// --- the issues ---------------------------------------------------------------------------

async function loadIssues() {
  let answer;
  try {
    answer = await fetch(api + "/label-issues?limit=" + ISSUES);
  } catch (_) {
    summary.textContent = "The server cannot be reached; trying again…";
    setTimeout(loadIssues, POLL_MS * 2);
    return;
  }
  if (!answer.ok) { summary.textContent = await problemText(answer); return; }
  const report = await answer.json();
  if (report.state === "computing") {
    summary.textContent = "Checking the labels (job " + report.job_id + ")…";
    setTimeout(loadIssues, POLL_MS);
    return;
  }
  const when = new Date(report.computed_at).toLocaleString();
  summary.textContent = "Checked " + report.labelled + " labelled photos of " + report.photos + " on " + when + ": " +
    report.likely + " probably wrong, " + (report.below_threshold - report.likely) + " more less sure than their class usually is." +
    (report.stale ? " Labels changed since; a new check is running." : "") +
    (report.complete ? "" : " Only the newest 50,000 photos were read.");
  issues = report.issues;
  drawIssues();
  drawProblems(report);
  markIssues(report.issues);
  if (report.stale) setTimeout(refreshWhenDone, POLL_MS, report.job_id, loadIssues);
}

// Polls a job until it ends, then runs `then`.
async function refreshWhenDone(jobID, then) {
  try {
    const answer = await fetch("/api/v1/jobs/" + jobID);
    if (answer.ok) {
      const job = await answer.json();
      if (["succeeded", "failed", "dead", "cancelled"].includes(job.state)) { then(); return; }
    }
  } catch (_) { /* try again */ }
  setTimeout(refreshWhenDone, POLL_MS, jobID, then);
}

function thumbnail(sha256, size, alt) {
  const image = element("img");
  image.src = "/api/v1/images/" + sha256 + "/thumbnail?size=256";
  image.alt = alt;
  image.loading = "lazy";
  image.width = size;
  image.height = size;
  return image;
}

function drawIssues() {
  list.replaceChildren();
  none.hidden = issues.length > 0;
  issues.forEach((issue, index) => {
    const item = element("li", null, "check-item" + (issue.fixed ? " fixed" : ""));
    item.dataset.sha256 = issue.sha256;
    const link = element("a");
    link.href = "/images/" + issue.sha256;
    link.append(thumbnail(issue.sha256, 96, "photo labelled " + issue.label));
    const text = element("div");
    const head = element("div");
    head.append("Labelled ", element("strong", issue.label));
    if (issue.suggested) head.append(" · probably ", element("strong", issue.suggested));
    if (issue.likely) head.append(" ", element("span", "likely wrong", "label"));
    const why = element("div", issue.label + " " + percent(issue.label_score) + " (its photos usually " +
      percent(issue.threshold) + ")" + (issue.suggested ? " · " + issue.suggested + " " + percent(issue.suggested_score || 0) : ""), "why");
    const neighbours = element("div", null, "neighbours");
    neighbours.title = "Its nearest labelled photos";
    for (const neighbour of issue.neighbours) {
      const image = thumbnail(neighbour.sha256, 40, neighbour.labels.join(", "));
      image.title = neighbour.labels.join(", ") + " · " + percent(neighbour.similarity) + " similar";
      neighbours.append(image);
    }
    text.append(head, why, neighbours);
    const actions = element("div", null, "actions");
    if (issue.suggested) {
      const accept = element("button", "Relabel as " + issue.suggested);
      accept.type = "button";
      accept.addEventListener("click", () => { current = index; fix(issue.suggested); });
      actions.append(accept);
    }
    const keep = element("button", "Keep " + issue.label, "secondary");
    keep.type = "button";
    keep.addEventListener("click", () => { current = index; move(1); });
    actions.append(keep);
    item.append(link, text, actions);
    item.addEventListener("click", (event) => {
      if (event.target.closest("button, a")) return;
      current = index;
      highlight();
    });
    list.append(item);
  });
  highlight(false);
}

function highlight(scroll = true) {
  list.querySelectorAll(".current").forEach((item) => item.classList.remove("current"));
  const item = list.children[current];
  if (!item) return;
  item.classList.add("current");
  if (scroll) item.scrollIntoView({ block: "nearest" });
  mapState.focus = issues[current] ? issues[current].sha256 : null;
  drawMap();
}

function move(step) {
  current = Math.max(0, Math.min(issues.length - 1, current + step));
  highlight();
}

// Replaces the doubted label with `label` (the photo's other labels stay).
async function fix(label) {
  const issue = issues[current];
  if (!issue || issue.fixed) { move(1); return; }
  const labels = issue.labels.filter((name) => name !== issue.label && name !== label).concat([label]);
  try {
    const result = await sendJSON("PUT", api + "/images/" + issue.sha256 + "/labels", { labels });
    issue.fixed = true;
    issue.labels = labels;
    undoStack.push({ operation: result.operation, index: current });
    list.children[current].classList.add("fixed");
    setPointIssue(issue.sha256, 0, label);
    toast(issue.label + " → " + label + " (Z undoes)");
    move(1);
  } catch (error) {
    toast(error.message, true);
  }
}

async function undo() {
  const last = undoStack.pop();
  if (!last) { toast("Nothing to undo"); return; }
  try {
    if (last.operation) await sendJSON("POST", api + "/labels/undo", { operation: last.operation });
    if (last.index < 0) {  // a change of the map's selection: its colours come back with the map
      toast("Undone");
      loadMap();
      return;
    }
    const issue = issues[last.index];
    issue.fixed = false;
    issue.labels = issue.labels.filter((name) => name !== issue.suggested).concat([issue.label]);
    list.children[last.index].classList.remove("fixed");
    setPointIssue(issue.sha256, issue.likely ? 2 : 1, issue.label);
    current = last.index;
    highlight();
    toast("Undone");
  } catch (error) {
    toast(error.message, true);
  }
}

function drawProblems(report) {
  const box = document.getElementById("check-problems");
  const target = document.getElementById("check-problem-list");
  target.replaceChildren();
  const add = (title, entries) => {
    if (!entries.length) return;
    target.append(element("h3", title));
    const items = element("ul", null, "grid");
    for (const entry of entries) {
      const item = element("li", null, "tile");
      if (entry.sha256) {
        const link = element("a");
        link.href = "/images/" + entry.sha256;
        link.append(thumbnail(entry.sha256, 120, entry.text));
        item.append(link);
      }
      item.append(element("div", entry.text, "muted"));
      items.append(item);
    }
    target.append(items);
  };
  // `needed` comes from the learning curve: where accuracy levels off, in this project when it
  // has enough large classes to draw one, else on Iris's photo evaluation set.
  const classSize = report.class_size;
  const where = !classSize ? "" : classSize.source === "project"
    ? " (accuracy levels off at " + classSize.enough + " per class here)"
    : " (accuracy levels off at " + classSize.enough + " per class on Iris's photo evaluation set; this project has too few large classes to measure its own)";
  add("Classes with too few photos to learn", report.small_classes.map((small) => ({
    text: small.label + ": " + small.photos + " photo" + (small.photos === 1 ? "" : "s") + ", about " + small.needed +
      " more would help" + where,
  })));
  add("Near-duplicates on both sides of an export's split", report.leaks.flatMap((leak) => leak.members.map((member) => ({
    sha256: member.sha256, text: "in " + member.split,
  }))));
  add("Two labels no other photo has together", report.rare_pairs.map((pair) => ({ sha256: pair.sha256, text: pair.labels.join(" + ") })));
  add("Far from every class", report.outliers.map((outlier) => ({
    sha256: outlier.sha256, text: outlier.labels.join(", ") + " · distance " + outlier.distance.toFixed(2) + " (usual " + outlier.usual.toFixed(2) + ")",
  })));
  box.hidden = target.children.length === 0;
}

// --- the map ------------------------------------------------------------------------------

const canvas = document.getElementById("map-canvas");
const context = canvas.getContext("2d");
const hover = document.getElementById("map-hover");
const status = document.getElementById("map-status");
const legend = document.getElementById("map-legend");
const colourSelect = document.getElementById("map-colour");
const selectionForm = document.getElementById("map-selection");
const selectedLine = document.getElementById("map-selected");
const mapState = { points: null, labels: [], classes: [], selected: new Set(), focus: null, drag: null, grid: null, version: 0 };
const MARGIN = 12;

async function loadMap() {
  let answer;
  try {
    answer = await fetch(api + "/map");
  } catch (_) {
    status.textContent = "The server cannot be reached; trying again…";
    setTimeout(loadMap, POLL_MS * 2);
    return;
  }
  askIssues();
  if (!answer.ok) { status.textContent = await problemText(answer); return; }
  const map = await answer.json();
  if (map.state === "computing") {
    status.textContent = "Laying the photos out (job " + map.job_id + ")…";
    setTimeout(loadMap, POLL_MS);
    return;
  }
  mapState.points = map.points;
  mapState.labels = map.labels;
  mapState.classes = map.classes;
  const count = map.points.sha256.length;
  status.textContent = count === 0
    ? "No photo has an embedding yet: the map appears once photos are analysed."
    : count + " photos, laid out " + new Date(map.computed_at).toLocaleString() + " from " + map.model + "'s embeddings" +
      (map.stale ? "; photos changed since, a new layout is being made." : ".");
  const names = document.getElementById("map-label-names");
  names.replaceChildren(...(labelSet.length ? labelSet : map.labels).map((name) => { const option = element("option"); option.value = name; return option; }));
  buildGrid();
  recolour();
  if (map.stale) setTimeout(refreshWhenDone, POLL_MS, map.job_id, loadMap);
}

// The map carries its own verdicts (from up to 500 issues); the issues listed here (at most
// ISSUES) only add to them, never clear the rest.
function markIssues(reported) {
  const points = mapState.points;
  if (!points) { setTimeout(markIssues, 500, reported); return; }
  if (!points.issue) points.issue = points.sha256.map(() => 0);
  const index = new Map(points.sha256.map((sha256, position) => [sha256, position]));
  for (const issue of reported) {
    const position = index.get(issue.sha256);
    if (position !== undefined) points.issue[position] = Math.max(points.issue[position], issue.likely ? 2 : 1);
  }
  recolour();
}

function setPointIssue(sha256, level, label) {
  const points = mapState.points;
  if (!points) return;
  const index = points.sha256.indexOf(sha256);
  if (index < 0) return;
  points.issue[index] = level;
  let labelIndex = mapState.labels.indexOf(label);
  if (labelIndex < 0) { mapState.labels.push(label); labelIndex = mapState.labels.length - 1; }
  points.label[index] = labelIndex;
  recolour();
}

function size() {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.round(canvas.clientWidth * ratio);
  const height = Math.round(canvas.clientHeight * ratio);
  if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
  return { width: canvas.clientWidth, height: canvas.clientHeight, ratio };
}

function position(index, box) {
  const points = mapState.points;
  return [MARGIN + points.x[index] * (box.width - 2 * MARGIN), MARGIN + (1 - points.y[index]) * (box.height - 2 * MARGIN)];
}

function colourOf(index) {
  const points = mapState.points;
  switch (colourSelect.value) {
    case "label": return points.label[index] < 0 ? "#c5cad3" : PALETTE[points.label[index] % PALETTE.length];
    case "review": return ["#6a994e", "#f2a541", "#c0392b"][points.review[index]];
    case "answer": return points.answer[index] < 0 ? "#c5cad3" : PALETTE[points.answer[index] % PALETTE.length];
    default: return ["#b8c0cc", "#f2a541", "#d62828"][points.issue[index] || 0];
  }
}

function drawLegend() {
  const entries = {
    label: mapState.labels.map((name, index) => [name, PALETTE[index % PALETTE.length]]).concat([["no label", "#c5cad3"]]),
    review: [["accepted", "#6a994e"], ["waiting", "#f2a541"], ["rejected", "#c0392b"]],
    answer: mapState.classes.map((name, index) => [name, PALETTE[index % PALETTE.length]]).concat([["unknown", "#c5cad3"]]),
    issue: [["fine", "#b8c0cc"], ["less sure than usual", "#f2a541"], ["probably wrong", "#d62828"]],
  }[colourSelect.value];
  legend.replaceChildren(...entries.map(([name, colour]) => {
    const span = element("span", name);
    span.style.setProperty("--swatch", colour);
    return span;
  }));
}

// The points are drawn once into an off-screen layer, again only when their colours, the
// colouring or the size change; a drag, the selection and the focus ring are drawn over a copy
// of it, so dragging a lasso over 50,000 photos redraws one image, not 50,000 dots.
const layer = document.createElement("canvas");
let layerKey = "";

function drawPoints(box) {
  const points = mapState.points;
  const key = [box.width, box.height, box.ratio, colourSelect.value, mapState.version].join(" ");
  if (key === layerKey) return;
  layerKey = key;
  layer.width = canvas.width;
  layer.height = canvas.height;
  const paint = layer.getContext("2d");
  paint.setTransform(box.ratio, 0, 0, box.ratio, 0, 0);
  const count = points.sha256.length;
  const dot = dotSize(count);
  // Ordinary points first, issues on top (and larger), the likely mistakes last of all, so a
  // mistake is never hidden, not even by a doubtful photo laid out at the very same place.
  const issues = colourSelect.value === "issue";
  for (const pass of [0, 1, 2]) {
    for (let index = 0; index < count; index++) {
      const raised = issues && points.issue[index] > 0;
      if ((issues ? points.issue[index] : 0) !== pass) continue;
      const [x, y] = position(index, box);
      paint.fillStyle = colourOf(index);
      if (raised || count <= 2000) {
        paint.beginPath();
        paint.arc(x, y, raised ? dot + 1.5 : dot / 2 + 0.5, 0, 2 * Math.PI);
        paint.fill();
      } else {
        paint.fillRect(x - dot / 2, y - dot / 2, dot, dot);
      }
    }
  }
  drawLegend();
}

function dotSize(count) { return count > 20000 ? 2 : count > 2000 ? 3 : 5; }

function drawMap() {
  const points = mapState.points;
  const box = size();
  context.setTransform(1, 0, 0, 1, 0, 0);
  context.clearRect(0, 0, canvas.width, canvas.height);
  if (!points) return;
  drawPoints(box);
  context.drawImage(layer, 0, 0);
  context.setTransform(box.ratio, 0, 0, box.ratio, 0, 0);
  const dot = dotSize(points.sha256.length);
  context.strokeStyle = "#1d2330";
  context.lineWidth = 1.5;
  for (const index of mapState.selected) {
    const [x, y] = position(index, box);
    context.strokeRect(x - dot, y - dot, dot * 2, dot * 2);
  }
  if (mapState.focus) {
    const index = points.sha256.indexOf(mapState.focus);
    if (index >= 0) {
      const [x, y] = position(index, box);
      context.strokeStyle = "#3557d6";
      context.lineWidth = 3;
      context.beginPath();
      context.arc(x, y, dot + 7, 0, 2 * Math.PI);
      context.stroke();
    }
  }
  const drag = mapState.drag;
  if (drag && drag.path.length > 1) {
    context.strokeStyle = "#3557d6";
    context.lineWidth = 1;
    context.setLineDash([4, 3]);
    context.beginPath();
    if (drag.lasso) {
      context.moveTo(drag.path[0][0], drag.path[0][1]);
      for (const [x, y] of drag.path) context.lineTo(x, y);
      context.closePath();
    } else {
      const [x0, y0] = drag.path[0];
      const [x1, y1] = drag.path[drag.path.length - 1];
      context.rect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
    }
    context.stroke();
    context.setLineDash([]);
  }
}

// Colours changed (a fix, a relabel, new issues): the point layer is drawn again.
function recolour() {
  mapState.version += 1;
  drawMap();
}

// A coarse grid of the points, so hover looks at a few cells, not every photo.
function buildGrid() {
  const points = mapState.points;
  const cells = 64;
  const grid = new Map();
  for (let index = 0; index < points.sha256.length; index++) {
    const key = Math.min(cells - 1, Math.floor(points.x[index] * cells)) * cells + Math.min(cells - 1, Math.floor(points.y[index] * cells));
    if (!grid.has(key)) grid.set(key, []);
    grid.get(key).push(index);
  }
  mapState.grid = { cells, grid };
}

function nearest(clientX, clientY) {
  const points = mapState.points;
  if (!points || !mapState.grid) return -1;
  const rect = canvas.getBoundingClientRect();
  const box = { width: rect.width, height: rect.height };
  const x = clientX - rect.left;
  const y = clientY - rect.top;
  const { cells, grid } = mapState.grid;
  const u = (x - MARGIN) / (box.width - 2 * MARGIN);
  const v = 1 - (y - MARGIN) / (box.height - 2 * MARGIN);
  const cu = Math.floor(u * cells);
  const cv = Math.floor(v * cells);
  let best = -1;
  let bestDistance = HOVER_PX * HOVER_PX;
  for (let du = -1; du <= 1; du++) {
    for (let dv = -1; dv <= 1; dv++) {
      for (const index of grid.get((cu + du) * cells + (cv + dv)) || []) {
        const [px, py] = position(index, box);
        const distance = (px - x) ** 2 + (py - y) ** 2;
        if (distance < bestDistance) { bestDistance = distance; best = index; }
      }
    }
  }
  return best;
}

function inside(polygon, x, y) {
  let within = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) within = !within;
  }
  return within;
}

function finishSelection(drag) {
  const points = mapState.points;
  const box = size();
  const [x0, y0] = drag.path[0];
  const [x1, y1] = drag.path[drag.path.length - 1];
  const chosen = new Set(drag.additive ? mapState.selected : []);
  for (let index = 0; index < points.sha256.length; index++) {
    const [x, y] = position(index, box);
    const hit = drag.lasso ? inside(drag.path, x, y)
      : x >= Math.min(x0, x1) && x <= Math.max(x0, x1) && y >= Math.min(y0, y1) && y <= Math.max(y0, y1);
    if (hit) chosen.add(index);
  }
  mapState.selected = chosen;
  showSelection();
}

function showSelection() {
  const count = mapState.selected.size;
  selectionForm.hidden = count === 0;
  selectedLine.textContent = count + " photo" + (count === 1 ? "" : "s") + " selected";
  drawMap();
}

function local(event) {
  const rect = canvas.getBoundingClientRect();
  return [event.clientX - rect.left, event.clientY - rect.top];
}

canvas.addEventListener("pointerdown", (event) => {
  if (!mapState.points) return;
  canvas.setPointerCapture(event.pointerId);
  mapState.drag = { path: [local(event)], lasso: event.shiftKey, additive: event.ctrlKey || event.metaKey, moved: false };
});
canvas.addEventListener("pointermove", (event) => {
  const drag = mapState.drag;
  if (drag) {
    drag.path.push(local(event));
    const [x0, y0] = drag.path[0];
    const [x1, y1] = drag.path[drag.path.length - 1];
    drag.moved = drag.moved || Math.abs(x1 - x0) + Math.abs(y1 - y0) > 4;
    drawMap();
    return;
  }
  const index = nearest(event.clientX, event.clientY);
  if (index < 0) { hover.hidden = true; canvas.title = ""; return; }
  const [x, y] = local(event);
  hover.src = "/api/v1/images/" + mapState.points.sha256[index] + "/thumbnail?size=256";
  const label = mapState.points.label[index];
  hover.alt = label >= 0 ? mapState.labels[label] : "no label";
  canvas.title = hover.alt;
  hover.style.left = Math.min(x + 12, canvas.clientWidth - 100) + "px";
  hover.style.top = Math.max(0, y - 108) + "px";
  hover.hidden = false;
});
canvas.addEventListener("pointerleave", () => { hover.hidden = true; });
canvas.addEventListener("pointerup", (event) => {
  const drag = mapState.drag;
  mapState.drag = null;
  if (!drag) return;
  if (drag.moved) { finishSelection(drag); return; }
  // A click: an issue's point goes to it in the list, any other opens the photo.
  const index = nearest(event.clientX, event.clientY);
  if (index < 0) { drawMap(); return; }
  const sha256 = mapState.points.sha256[index];
  const issue = issues.findIndex((entry) => entry.sha256 === sha256);
  if (issue >= 0) { current = issue; highlight(); } else { window.open("/images/" + sha256, "_blank"); }
});
colourSelect.addEventListener("change", drawMap);
document.getElementById("map-clear").addEventListener("click", () => { mapState.selected = new Set(); showSelection(); });
window.addEventListener("resize", () => drawMap());

selectionForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const label = selectionForm.elements.label.value.trim();
  const action = event.submitter ? event.submitter.value : "add";
  const images = [...mapState.selected].map((index) => mapState.points.sha256[index]);
  try {
    const result = await sendJSON("POST", api + "/labels", { images, [action]: [label] });
    undoStack.push({ operation: result.operation, index: -1 });
    toast((action === "add" ? "Added " : "Removed ") + label + " on " + result.changed + " photos (Z undoes)");
    const labelIndex = mapState.labels.includes(label) ? mapState.labels.indexOf(label) : mapState.labels.push(label) - 1;
    for (const index of mapState.selected) {
      if (action === "add" && mapState.points.label[index] < 0) mapState.points.label[index] = labelIndex;
      if (action === "remove" && mapState.points.label[index] === labelIndex) mapState.points.label[index] = -1;
    }
    recolour();
  } catch (error) {
    toast(error.message, true);
  }
});

// --- keys ---------------------------------------------------------------------------------

keysButton.addEventListener("click", () => {
  help.hidden = !help.hidden;
  keysButton.setAttribute("aria-expanded", String(!help.hidden));
});

document.addEventListener("keydown", (event) => {
  if (event.target.closest("input, select, textarea") || event.ctrlKey || event.metaKey || event.altKey) return;
  const issue = issues[current];
  if (event.key === "ArrowDown" || event.key === "j") move(1);
  else if (event.key === "ArrowUp" || event.key === "k") move(-1);
  else if ((event.key === "Enter" || event.key === "a") && issue && issue.suggested) fix(issue.suggested);
  else if (event.key === "s") move(1);
  else if (event.key === "z") undo();
  else if (event.key === "?") keysButton.click();
  else if (/^[1-9]$/.test(event.key) && labelSet[Number(event.key) - 1] && issue) fix(labelSet[Number(event.key) - 1]);
  else return;
  event.preventDefault();
});

// The map's answer is the large one (50,000 photos: megabytes): it is asked for first, and the
// issues once it is on its way back (or after a moment), so the two do not share 2 cores.
let issuesAsked = false;
function askIssues() {
  if (issuesAsked) return;
  issuesAsked = true;
  loadIssues();
}
startPage();
loadMap();
setTimeout(askIssues, 1500);
