// The review page (review.mustache): the photos waiting for review, one at a time, large, with
// their labels and the suggestions; decided by keyboard (1–9, Enter, X, Z, arrows, ?) or by the
// big buttons.
//
// Speed: the next three photos' images are loading while the current one is looked at, and
// the next page of the queue is asked for before the page runs out, so the next photo shows at
// once. Decisions go to an outbox and are sent in the background, one at a time, in order.
//
// The outbox is kept in localStorage (a reload keeps it). A decision that cannot be sent (no
// network, a 408, 429 or 5xx) stays and is sent again every few seconds and when the browser
// comes back online; it leaves the outbox only once answered with a 2xx (or refused with another
// 4xx, which is shown). Decisions are states (accepting twice leaves the photo accepted), so a
// retry after an answer that was lost does no harm.
//
// Z (undo): the API cannot put a decided photo back to pending, so undo brings the photo back
// to be decided again. A decision still in the outbox is dropped there, never sent; one that was
// sent stands until the photo is decided again, except that the label change an accept made is
// reversed at once (POST …/labels/undo with the operation the accept answered).
import { csrfHeaders, element, percent, problemText, startPage, toast } from "./common.js";

const PRELOAD = 3;       // images loading ahead of the one shown
const REFILL = 10;       // ask for more once fewer photos than this wait ahead
const PAGE = 50;         // photos asked for beyond those the page holds
const RETRY_MS = 4000;   // an outbox that could not be sent tries again after this
const POLL_MS = 20000;   // at the end of the queue, look for new photos this often

const root = document.getElementById("review-page");
const project = root.dataset.project;
const api = "/api/v1/projects/" + project;
const labelSet = (root.dataset.labels || "").split("\n").map((name) => name.trim()).filter(Boolean);
const storageKey = "iris-review-outbox-" + project;

let photo = document.getElementById("review-photo");  // replaced by the image loaded ahead
const figure = photo.parentElement;
const caption = document.getElementById("review-caption");
const stateLine = document.getElementById("review-state");
const labelsLine = document.getElementById("review-labels");
const choicesList = document.getElementById("review-suggestions");
const progress = document.getElementById("review-progress");
const unsentLine = document.getElementById("review-unsent");
const help = document.getElementById("review-help");
const keysButton = document.getElementById("review-keys");
const orderSelect = document.getElementById("review-order");
const stage = document.getElementById("review-stage");
const empty = document.getElementById("review-empty");
const acceptButton = document.getElementById("review-accept");
const rejectButton = document.getElementById("review-reject");
const undoButton = document.getElementById("review-undo");
const skipButton = document.getElementById("review-skip");

// The queue as this page knows it, in the order shown. An item is the API's, plus `decision`:
// this session's decision of it ({id, action, labels, sent}) or null.
let items = [];
const known = new Map();  // sha256 → item
let position = 0;         // index in items of the photo shown; items.length: the end
let picked = null;        // the label the next accept gives, when one was picked
let beyond = 0;           // photos waiting on the server beyond those the last answer listed
let loading = false;
let exhausted = false;    // the last answer brought nothing new: wait for a decision or the poll
let pollTimer = null;
let unreachable = false;  // the last attempt to read the queue failed
let generation = 0;       // bumped when the order changes: an answer for the old order is dropped
const history = [];       // this session's decisions, latest last: what Z takes back
const recent = [];        // when each decision of this session was made (ms), for the rate
const preloaded = new Map();  // url → Image, the images loading ahead

// Timing, for tests and the measurement: window.irisReview.latencies holds, per move, the ms
// from the key press (or click) to the new photo shown, loaded, in #review-photo (its `load`,
// or at once when its image was loaded ahead); `details` adds the first animation frame after
// that (`frame`, ms after the key) and whether the image had been loaded and decoded ahead.
const timing = { latencies: [], details: [], pending: null };
window.irisReview = timing;

// ---- The outbox ----

function loadOutbox() {
  try {
    const saved = JSON.parse(localStorage.getItem(storageKey) || "[]");
    return Array.isArray(saved) ? saved.filter((entry) => entry && entry.id && entry.kind) : [];
  } catch (_) {
    return [];
  }
}

let outbox = loadOutbox();
let inFlight = null;      // the entry being sent
let retryTimer = null;
let failing = false;      // the last attempt could not reach the server
// Decision id → what its answer said: {operation (the label change it made, or null), retried}.
const answered = new Map();
// Photo → the decision this page sent of it: a queue read before that decision arrived still
// lists the photo as waiting (an outbox from an earlier visit is sent while the queue is read).
const sentHere = new Map();

function saveOutbox() {
  try {
    localStorage.setItem(storageKey, JSON.stringify(outbox));
  } catch (_) {}
  showUnsent();
}

function newID() {
  return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);
}

function showUnsent() {
  const waiting = outbox.length;
  unsentLine.hidden = !(waiting && (failing || !inFlight));
  unsentLine.textContent = waiting ? waiting + (waiting === 1 ? " decision" : " decisions") +
    " waiting to be sent" + (failing ? "; kept on this device and sent when the server answers" : "") : "";
}

// Whether an answer means "try again later" rather than "this was refused".
function transient(status) {
  return status >= 500 || status === 408 || status === 429;
}

async function post(path, body) {
  return fetch(api + path, {
    method: "POST", headers: csrfHeaders({ "Content-Type": "application/json" }), body: JSON.stringify(body),
  });
}

// One entry: "done" (2xx, or nothing to send), "refused" (shown and dropped) or "later".
async function send(entry) {
  let answer;
  try {
    if (entry.kind === "decide") {
      const decision = { sha256: entry.sha256, action: entry.action };
      if (entry.labels) decision.labels = entry.labels;
      entry.tries = (entry.tries || 0) + 1;
      answer = await post("/review", { decisions: [decision] });
    } else {
      const done = entry.answered || answered.get(entry.of);
      if (done && done.operation) {
        answer = await post("/labels/undo", { operation: done.operation });
      } else if (done && done.retried && entry.restore) {
        // The accept was sent more than once and its answer named no change: an earlier try
        // may have made it with its answer lost. Its labels are put back as they were.
        answer = await fetch(api + "/images/" + entry.sha256 + "/labels", {
          method: "PUT", headers: csrfHeaders({ "Content-Type": "application/json" }),
          body: JSON.stringify({ labels: entry.restore }),
        });
      } else {
        return "done";  // the accept changed no label: nothing to reverse
      }
    }
  } catch (_) {
    return "later";
  }
  if (transient(answer.status)) return "later";
  if (!answer.ok) {
    const what = entry.kind === "decide" ? (entry.action === "accept" ? "Accepting " : "Rejecting ") + shortName(entry.sha256)
      : "Undoing the label change on " + shortName(entry.sha256);
    toast(what + " was refused: " + await problemText(answer), true);
    return "refused";
  }
  if (entry.kind === "decide") {
    let body = {};
    try { body = await answer.json(); } catch (_) {}
    const done = { operation: body.operation === undefined ? null : body.operation, retried: entry.tries > 1 };
    answered.set(entry.id, done);
    // An undo waiting behind this decision keeps what it needs (the outbox outlives a reload).
    for (const other of outbox) if (other.kind === "undo" && other.of === entry.id) other.answered = done;
    sentHere.set(entry.sha256, { id: entry.id, action: entry.action, labels: entry.labels || null, sent: true });
    const item = known.get(entry.sha256);
    if (item && item.decision && item.decision.id === entry.id) item.decision.sent = true;
  }
  return "done";
}

async function flush() {
  if (inFlight) return;
  clearTimeout(retryTimer);
  while (outbox.length) {
    const entry = outbox[0];
    inFlight = entry;
    showUnsent();
    const outcome = await send(entry);
    inFlight = null;
    if (outcome === "later") {
      failing = true;
      saveOutbox();  // keeps the count of tries
      retryTimer = setTimeout(flush, RETRY_MS);
      return;
    }
    failing = false;
    outbox = outbox.filter((other) => other !== entry);
    saveOutbox();
  }
  failing = false;
  showUnsent();
}

function shortName(sha256) {
  const item = known.get(sha256);
  return (item && item.original_name) || sha256.slice(0, 12);
}

// ---- The queue ----

function undecidedAhead() {
  let count = 0;
  for (let index = position + 1; index < items.length; index++) if (!items[index].decision) count++;
  return count;
}

function adopt(item) {
  // A decision from an earlier visit, still in the outbox or sent since: decided here already.
  item.decision = sentHere.get(item.sha256) || null;
  for (const entry of outbox) {
    if (entry.kind === "decide" && entry.sha256 === item.sha256) {
      item.decision = { id: entry.id, action: entry.action, labels: entry.labels || null, sent: false };
    }
  }
  known.set(item.sha256, item);
  items.push(item);
}

async function load() {
  if (loading) return;
  loading = true;
  const atEnd = position >= items.length;
  const before = items.length;
  // No cursor for the review queue: ask for those the server still holds as pending that the
  // page knows of, plus a page more, and keep the ones not known yet.
  const stillPending = items.filter((item) => !item.decision || !item.decision.sent).length;
  const limit = Math.min(500, stillPending + PAGE);
  const asked = generation;
  let body = null;
  try {
    const answer = await fetch(api + "/review?review=pending&order=" + encodeURIComponent(orderSelect.value) + "&limit=" + limit);
    if (answer.ok) body = await answer.json();
    else if (!transient(answer.status)) toast(await problemText(answer), true);
  } catch (_) {
    // No network: the page keeps what it has, and tries again when asked or at the poll.
  }
  loading = false;
  if (asked !== generation) {
    load();  // the order changed meanwhile
    return;
  }
  unreachable = !body;
  if (!body) exhausted = true;  // asked again after a decision, or by the poll
  if (body) {
    for (const item of body.items) if (!known.has(item.sha256)) adopt(item);
    exhausted = items.length === before;
    beyond = Math.max(0, waiting(body.counts || {}) - body.items.length);
  }
  if (atEnd && position === before) {
    // The page showed the end: the first new photo still undecided is shown now.
    position = firstUndecided(before);
    show();
  } else {
    preload();
    showProgress();
  }
  schedulePoll();
}

// How many photos the server holds in the order asked: the pending ones, and in the useful
// order also the accepted ones without a label (`counts.unlabelled`, answered for that order).
function waiting(counts) {
  return (counts.pending || 0) + (orderSelect.value === "useful" ? counts.unlabelled || 0 : 0);
}

function firstUndecided(from) {
  for (let index = from; index < items.length; index++) if (!items[index].decision) return index;
  return items.length;
}

function schedulePoll() {
  clearTimeout(pollTimer);
  if (position >= items.length) pollTimer = setTimeout(load, unreachable ? RETRY_MS : POLL_MS);
}

function refill() {
  if (loading) return;
  const needMore = position >= items.length || undecidedAhead() < REFILL;
  if (needMore && !exhausted && (beyond > 0 || position >= items.length)) load();
}

function preload() {
  const wanted = new Set();
  for (let index = position + 1; index < items.length && wanted.size < PRELOAD; index++) {
    if (!items[index].decision) wanted.add(items[index].urls.thumbnail_1024);
  }
  if (position > 0 && items[position - 1]) wanted.add(items[position - 1].urls.thumbnail_1024);
  for (const url of wanted) {
    if (preloaded.has(url)) continue;
    const image = new Image();
    image.decoding = "async";
    image.src = url;
    if (image.decode) image.decode().then(() => { image.dataset.decoded = "1"; }, () => {});
    preloaded.set(url, image);
  }
  // Keep the last few dozen: the browser's cache holds the rest.
  while (preloaded.size > 40) preloaded.delete(preloaded.keys().next().value);
}

// ---- Showing ----

// How a suggestion's source reads beside its confidence.
const sourceNames = { learner: "learner", head: "trained head", model: "model" };

// What 1–9 pick from: the suggestions, then the project's labels not suggested.
function choicesFor(item) {
  const choices = item.suggestions.map((suggestion) => ({ label: suggestion.label, suggestion: suggestion }));
  for (const label of labelSet) if (!choices.some((choice) => choice.label === label)) choices.push({ label: label });
  return choices;
}

function describe(decision) {
  if (!decision) return "";
  if (decision.action === "reject") return "Rejected";
  return decision.labels ? "Accepted as " + decision.labels.join(", ") : "Accepted";
}

function rate() {
  const since = performance.now() - 60000;
  while (recent.length && recent[0] < since) recent.shift();
  return recent.length;
}

function showProgress() {
  let left = beyond;
  let decided = 0;
  for (const item of items) {
    if (item.decision) decided++; else left++;
  }
  progress.textContent = left + " of " + (left + decided) + " left, " + rate() + " a minute";
}

function show() {
  const item = items[position];
  const atEnd = !item;
  stage.hidden = atEnd;
  empty.hidden = !atEnd;
  acceptButton.disabled = atEnd;
  rejectButton.disabled = atEnd;
  skipButton.disabled = atEnd;
  undoButton.disabled = history.length === 0;
  if (atEnd) {
    empty.textContent = unreachable ? "The queue could not be loaded; trying again shortly." :
      loading || beyond > 0 ? "Loading more photos…" : "Nothing waits for review.";
    timing.pending = null;
    showProgress();
    runDeferred();
    refill();
    schedulePoll();
    return;
  }
  const url = item.urls.thumbnail_1024;
  let loadedAlready = false;
  if (photo.getAttribute("src") !== url) {
    if (timing.pending) timing.pending.src = url;
    let ahead = preloaded.get(url);
    if (ahead && ahead.complete && !ahead.naturalWidth) {
      preloaded.delete(url);  // it failed to load ahead: the shown image asks again
      ahead = null;
    }
    if (ahead) {
      // The image loading (or loaded and decoded) ahead takes the shown one's place: no new
      // request, no decoding, and the one left is kept for going back.
      preloaded.delete(url);
      const old = photo;
      old.removeAttribute("id");
      ahead.id = "review-photo";
      old.replaceWith(ahead);
      photo = ahead;
      if (old.getAttribute("src")) preloaded.set(old.getAttribute("src"), old);
      loadedAlready = ahead.complete && ahead.naturalWidth > 0;
      if (timing.pending) timing.pending.ready = loadedAlready && ahead.dataset.decoded === "1";
    } else {
      photo.src = url;
    }
  } else {
    timing.pending = null;  // the same photo: nothing new to load
  }
  photo.alt = item.original_name || "photo " + item.sha256.slice(0, 12);
  photo.dataset.sha256 = item.sha256;
  const added = new Date(item.added_at);
  caption.textContent = [item.original_name, item.link ? "through the link " + item.link : "", "added " + added.toLocaleString()]
    .filter(Boolean).join(" · ");

  stateLine.textContent = describe(item.decision);
  stateLine.className = "review-state" + (item.decision ? " " + item.decision.action : "");
  labelsLine.replaceChildren();
  if (item.labels.length) {
    for (const name of item.labels) labelsLine.append(element("span", name, "label"));
  } else {
    labelsLine.append(element("span", "none", "muted"));
  }
  if (item.label_confidence !== undefined && item.label_confidence !== null) {
    labelsLine.append(element("span", " the learner finds this label " + percent(item.label_confidence) + " likely", "muted"));
  }

  choicesList.replaceChildren();
  choicesFor(item).forEach((choice, index) => {
    const row = element("li", undefined, choice.suggestion ? "suggested" : "from-set");
    row.dataset.label = choice.label;
    const button = element("button", undefined, "choice");
    button.type = "button";
    button.setAttribute("aria-pressed", String(picked === choice.label));
    button.append(element("kbd", index < 9 ? String(index + 1) : "·"), element("span", choice.label, "name"));
    if (choice.suggestion) {
      const from = sourceNames[choice.suggestion.source] || choice.suggestion.source;
      button.append(element("span", percent(choice.suggestion.confidence) + " " + from, "muted why"));
    }
    button.addEventListener("click", () => pick(choice.label));
    row.append(button);
    if (picked === choice.label) row.classList.add("picked");
    choicesList.append(row);
  });
  acceptButton.firstChild.textContent = picked ? "Accept as " + picked + " " : "Accept ";
  showProgress();
  afterShown(() => {
    preload();
    refill();
  });
  if (loadedAlready) photoShown();
  else if (!timing.pending || !timing.pending.src) runDeferred();  // no new photo to wait for
}

// Work that can wait (sending decisions, loading images ahead, asking for more of the queue)
// runs once the new photo has loaded, or 150 ms after it was asked for: started at once, its
// requests held the photo's load event back by some 30 ms in Chromium (measured).
let deferred = [];
let deferTimer = null;

function afterShown(work) {
  deferred.push(work);
  if (!deferTimer) deferTimer = setTimeout(runDeferred, 150);
}

function runDeferred() {
  clearTimeout(deferTimer);
  deferTimer = null;
  const work = deferred;
  deferred = [];
  for (const task of work) task();
}

// The photo shown has its image: note when, then let the waiting work run.
function photoShown() {
  const shownAt = performance.now();
  photo.dataset.shownAt = String(shownAt);
  const pending = timing.pending;
  if (pending && pending.src === photo.getAttribute("src")) {
    timing.pending = null;
    timing.latencies.push(shownAt - pending.at);
    const detail = { latency: shownAt - pending.at, ready: !!pending.ready };
    timing.details.push(detail);
    requestAnimationFrame(() => { detail.frame = performance.now() - pending.at; });
  }
  runDeferred();
}

// load and error do not bubble; caught on their way down, they come from whichever image is shown.
figure.addEventListener("load", (event) => { if (event.target === photo) photoShown(); }, true);
figure.addEventListener("error", (event) => {
  if (event.target !== photo) return;
  caption.textContent = "This photo could not be loaded. " + caption.textContent;
  runDeferred();
}, true);

// ---- Acting ----

function startTiming(event) {
  const at = event && event.timeStamp > 0 && event.timeStamp <= performance.now() ? event.timeStamp : performance.now();
  timing.pending = { at: at, src: null };
}

function pick(label) {
  picked = picked === label ? null : label;
  for (const row of choicesList.children) {
    const on = row.dataset.label === picked;
    row.classList.toggle("picked", on);
    row.firstChild.setAttribute("aria-pressed", String(on));
  }
  acceptButton.firstChild.textContent = picked ? "Accept as " + picked + " " : "Accept ";
}

function decide(action, event) {
  const item = items[position];
  if (!item) return;
  startTiming(event);
  const labels = action === "accept" && picked ? [picked] : null;
  // A decision of this photo that has not left yet is replaced rather than sent first.
  if (item.decision) {
    const waiting = outbox.find((entry) => entry.id === item.decision.id);
    if (waiting && waiting !== inFlight) outbox = outbox.filter((entry) => entry !== waiting);
  }
  const entry = { id: newID(), kind: "decide", sha256: item.sha256, action: action };
  if (labels) entry.labels = labels;
  item.decision = { id: entry.id, action: action, labels: labels, sent: false };
  history.push({ sha256: item.sha256, id: entry.id, labels: labels, restore: item.labels.slice() });
  recent.push(performance.now());
  outbox.push(entry);
  saveOutbox();
  exhausted = false;
  picked = null;
  position = firstUndecided(position + 1);
  afterShown(flush);
  show();
}

function undo(event) {
  const last = history.pop();
  if (!last) {
    toast("Nothing to undo");
    return;
  }
  startTiming(event);
  const waiting = outbox.find((entry) => entry.id === last.id);
  if (waiting && waiting !== inFlight) {
    outbox = outbox.filter((entry) => entry !== waiting);  // never sent: dropped
  } else if (last.labels) {
    // Sent (or being sent), and it relabelled: its label change is reversed once it is known.
    const reverse = { id: newID(), kind: "undo", of: last.id, sha256: last.sha256, restore: last.restore };
    if (answered.has(last.id)) reverse.answered = answered.get(last.id);
    outbox.push(reverse);
  }
  saveOutbox();
  recent.pop();
  const item = known.get(last.sha256);
  if (item) {
    if (item.decision && item.decision.id === last.id) item.decision = null;
    position = items.indexOf(item);
  }
  picked = null;
  afterShown(flush);
  show();
}

function move(delta, event) {
  const next = Math.min(items.length, Math.max(0, position + delta));
  if (next === position) return;
  startTiming(event);
  position = next;
  picked = null;
  show();
}

function toggleHelp(open) {
  help.hidden = open === undefined ? !help.hidden : !open;
  keysButton.setAttribute("aria-expanded", String(!help.hidden));
}

function typing(target) {
  if (!target || !target.tagName) return false;
  return target.isContentEditable || ["INPUT", "SELECT", "TEXTAREA", "A"].includes(target.tagName) || !!target.closest("form");
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
  const key = event.key;
  if (key >= "1" && key <= "9" && key.length === 1) {
    const item = items[position];
    const choice = item && choicesFor(item)[Number(key) - 1];
    if (choice) pick(choice.label);
  } else if (key === "Enter") {
    decide("accept", event);
  } else if (key === "x" || key === "X") {
    decide("reject", event);
  } else if (key === "z" || key === "Z") {
    undo(event);
  } else if (key === "ArrowRight") {
    move(1, event);
  } else if (key === "ArrowLeft") {
    move(-1, event);
  } else if (key === "?") {
    toggleHelp();
  } else if (key === "Escape" && !help.hidden) {
    toggleHelp(false);
  } else {
    return;
  }
  event.preventDefault();
});

acceptButton.addEventListener("click", (event) => decide("accept", event));
rejectButton.addEventListener("click", (event) => decide("reject", event));
undoButton.addEventListener("click", (event) => undo(event));
skipButton.addEventListener("click", (event) => move(1, event));
keysButton.addEventListener("click", () => toggleHelp());
orderSelect.addEventListener("change", () => {
  // The photo shown and those decided stay; the rest come again in the new order.
  const current = items[position];
  items = items.filter((item) => item === current || item.decision);
  known.clear();
  for (const item of items) known.set(item.sha256, item);
  position = current ? items.indexOf(current) : items.length;
  exhausted = false;
  generation++;
  orderSelect.blur();
  load();
});

window.addEventListener("online", flush);
setInterval(showProgress, 5000);

startPage();
document.body.classList.add("reviewing");
showUnsent();
load();
flush();
