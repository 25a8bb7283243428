// Iris web UI: small, dependency-free. Every action goes through /api/v1.
"use strict";

// Every change made from a signed-in page carries the session's CSRF token.
function csrfHeaders(extra) {
  const meta = document.querySelector("meta[name=csrf-token]");
  return Object.assign(meta ? { "X-CSRF-Token": meta.content } : {}, extra || {});
}

function toast(message, isError) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = document.createElement("div");
  item.className = "toast" + (isError ? " error" : "");
  item.textContent = message;
  box.appendChild(item);
  // At most three at once: older ones give way, so they never cover a phone's screen.
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => item.remove(), 6000);
}

async function problemText(response) {
  try {
    const body = await response.json();
    return body.detail || body.title || response.statusText;
  } catch (_) {
    return response.statusText;
  }
}

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

// The project page's upload: photos are chosen (or dropped), a label picked, and nothing is
// sent until Upload is pressed, so the label chosen after the photos is the one they get.
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

// The offline upload queue. Photos go into IndexedDB first (database "iris-uploads"), then are
// sent one by one: each is hashed (when the page may use WebCrypto) and checked against the
// project, so nothing is sent twice; a network error, a 408, 429 or 5xx leaves it waiting, and
// the queue tries again when the browser comes back online and every 5 s. The queue outlives
// the page: opening it again shows what waits and sends it. A refusal is shown and dropped.
function idbRequest(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

let queueDatabase = null;
function queueStore(mode) {
  if (!queueDatabase) {
    const opening = indexedDB.open("iris-uploads", 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore("photos", { keyPath: "id", autoIncrement: true });
    queueDatabase = idbRequest(opening);
  }
  return queueDatabase.then((db) => db.transaction("photos", mode).objectStore("photos"));
}

async function sha256Hex(blob) {
  if (!(window.crypto && crypto.subtle)) return null;  // not a secure context: the server dedupes anyway
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function offlineQueue(target, checkURL, list, finished) {
  const status = document.getElementById("queue-status");
  let flushing = false;
  let retry = null;
  let sent = 0;
  let refused = 0;
  let notes = [];  // what a round did besides storing photos ("label oak added"), for its end

  function rowFor(entry) {
    let row = list.querySelector('[data-entry="' + entry.id + '"]');
    if (!row) {
      row = document.createElement("li");
      row.dataset.entry = entry.id;
      row.innerHTML = "<span class=name></span><progress max=1 value=0></progress><span class=status>waiting</span>";
      row.querySelector(".name").textContent = entry.name;
      list.appendChild(row);
    }
    return row;
  }

  function show(waiting) {
    if (!status) return;
    status.textContent = waiting ? waiting + (waiting === 1 ? " photo waits" : " photos wait") +
      " for the network; they are kept on this device and sent when it returns." : "";
  }

  // One photo: "done", "refused" or "offline".
  async function send(entry, row) {
    const state = row.querySelector(".status");
    state.textContent = "sending";
    state.className = "status";
    try {
      const hash = await sha256Hex(entry.file);
      if (hash) {
        const answer = await fetch(checkURL, {
          method: "POST", headers: csrfHeaders({ "Content-Type": "application/json" }),
          body: JSON.stringify({ sha256: [hash] }),
        });
        if (answer.status >= 500 || answer.status === 429) {
          state.textContent = "waiting for the server";
          return "offline";
        }
        // A photo the project has is not sent again, unless it comes with a label: then the
        // upload gives the project's copy that label.
        if (answer.ok && (await answer.json()).present.includes(hash) && !entry.label) {
          row.querySelector("progress").value = 1;
          state.textContent = "already stored";
          return "done";
        }
      }
    } catch (_) {
      state.textContent = "waiting for the network";
      return "offline";
    }
    return new Promise((resolve) => {
      const form = new FormData();
      form.append("file", entry.file, entry.name);
      if (entry.label) form.append("label", entry.label);
      const request = new XMLHttpRequest();
      const bar = row.querySelector("progress");
      request.upload.onprogress = (event) => { if (event.lengthComputable) bar.value = event.loaded / event.total; };
      request.onload = () => {
        let body = {};
        try { body = JSON.parse(request.responseText); } catch (_) {}
        if (request.status >= 200 && request.status < 300) {
          bar.value = 1;
          const added = body.labels_added || [];
          state.textContent = body.duplicate ? "already stored" : "uploaded";
          if (body.duplicate && added.length) {
            const what = (added.length === 1 ? "label " : "labels ") + added.join(", ") + " added";
            state.textContent = "already stored; " + what;
            notes.push(entry.name + " was already stored; " + what + ".");
          }
          resolve("done");
        } else if (request.status >= 500 || request.status === 429 || request.status === 408) {
          state.textContent = "waiting for the server";
          resolve("offline");
        } else {
          state.textContent = body.detail || request.statusText;
          state.className = "status error";
          resolve("refused");
        }
      };
      request.onerror = () => { state.textContent = "waiting for the network"; resolve("offline"); };
      // XMLHttpRequest rather than fetch: it reports upload progress per file.
      request.open("POST", target);
      for (const [name, value] of Object.entries(csrfHeaders())) request.setRequestHeader(name, value);
      request.send(form);
    });
  }

  async function flush() {
    if (flushing) return;
    flushing = true;
    clearTimeout(retry);
    let offline = false;
    try {
      const entries = (await idbRequest((await queueStore("readonly")).getAll())).filter((entry) => entry.target === target);
      for (const entry of entries) rowFor(entry);
      // The notice that photos wait is shown only once one has: not while they are being sent.
      for (const [index, entry] of entries.entries()) {
        const outcome = await send(entry, rowFor(entry));
        if (outcome === "offline") { offline = true; show(entries.length - index); break; }
        await idbRequest((await queueStore("readwrite")).delete(entry.id));
        if (outcome === "done") sent += 1; else refused += 1;
      }
      if (!offline) {
        show(0);
        if (sent + refused > 0) finished(sent, refused, notes);
        sent = 0;
        refused = 0;
        notes = [];
      }
    } finally {
      flushing = false;
      if (offline) retry = setTimeout(flush, 5000);
    }
  }

  window.addEventListener("online", flush);
  flush();
  return {
    async add(files, label) {
      for (const file of files) {
        const entry = { target: target, name: file.name, label: label, file: file, added: Date.now() };
        entry.id = await idbRequest((await queueStore("readwrite")).add(entry));
        rowFor(entry);
      }
      flush();
    },
    flush: flush,
  };
}

// Owners make contributor links from the project page.
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

// The contributor link page: no account, the link's code is the permission. Photos taken
// offline wait in the queue above.
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

// Signed-in pages follow the audit log live and show each new event as a notification.
//
// A browser opens at most six HTTP/1.1 connections to a host, and each open EventSource holds
// one. One stream per tab, kept past the page, used them up after five or six quick clicks and
// the next page waited about a minute for a connection. So: one tab at a time holds the stream
// (the holder of the Web Lock "iris-events"; when it goes, the next waiting tab takes over) and
// passes each event to the other tabs over a BroadcastChannel; and a page closes its stream as
// soon as it is left ("pagehide", and "beforeunload" before it), which also gives up the lock.
// Without Web Locks or BroadcastChannel each tab holds its own stream, still closed on leaving.
const EVENT_NAMES = ["image.uploaded", "image.removed", "import.completed", "project.created", "project.updated",
  "project.deleted", "member.role_set", "member.removed", "link.created", "link.revoked", "token.created",
  "token.revoked", "user.created", "user.disabled", "auth.sign_in_failed", "webhook.created", "webhook.deleted",
  "job.cancelled", "job.retried", "job.dead", "job.failed", "model.registered", "model.removed"];

function followEvents() {
  if (!document.querySelector("meta[name=csrf-token]") || !window.EventSource) return;
  const show = (data) => {
    try {
      const event = JSON.parse(data);
      const where = event.project_id ? " in project " + event.project_id : "";
      toast(event.actor + ": " + event.action.replace(/[._]/g, " ") + where, event.action.includes("failed"));
    } catch (_) {}
  };
  const channel = window.BroadcastChannel ? new BroadcastChannel("iris-events") : null;
  if (channel) channel.onmessage = (message) => show(message.data);
  const shared = !!(channel && navigator.locks);
  let source = null;
  let release = null;  // ends this tab's hold on the lock
  let waiting = null;  // aborts this tab's place in the queue for the lock

  function open() {
    source = new EventSource("/api/v1/events");
    for (const name of EVENT_NAMES) {
      source.addEventListener(name, (message) => {
        show(message.data);
        if (channel) channel.postMessage(message.data);
      });
    }
  }

  function start() {
    if (source || release || waiting) return;
    if (!shared) { open(); return; }
    waiting = new AbortController();
    navigator.locks.request("iris-events", { signal: waiting.signal }, () => {
      waiting = null;
      open();
      return new Promise((resolve) => { release = resolve; });
    }).catch(() => {});  // aborted: the page was left while it waited
  }

  function stop() {
    if (source) source.close();
    source = null;
    if (waiting) waiting.abort();
    waiting = null;
    if (release) release();
    release = null;
  }

  window.addEventListener("beforeunload", () => {
    stop();
    // A page can stay after "beforeunload" (a download link, a leave that was cancelled): if
    // it is still here in 5 s, it follows the events again.
    setTimeout(start, 5000);
  });
  window.addEventListener("pagehide", stop);
  // A page brought back from the back/forward cache follows the events again.
  window.addEventListener("pageshow", (event) => { if (event.persisted) start(); });
  start();
}

// Forms and buttons marked data-api="METHOD /path" call the API with the session's CSRF
// token, then reload (or show the field named by data-show, e.g. a new token's secret).
// A button with data-confirm="question" asks first (every destructive one has it).
function formJSON(form) {
  const body = {};
  for (const element of form.elements) {
    if (!element.name || element.dataset.path !== undefined) continue;
    if (element.type === "checkbox") {
      if (element.name === "scopes") { if (element.checked) (body.scopes = body.scopes || []).push(element.value); }
      else body[element.name] = element.checked;
    } else if (element.value !== "") {
      body[element.name] = element.type === "number" ? Number(element.value) : element.value;
    }
  }
  return body;
}

async function callAPI(spec, body, onSuccess) {
  const [method, ...rest] = spec.split(" ");
  const response = await fetch(rest.join(" "), {
    method, headers: csrfHeaders(body ? { "Content-Type": "application/json" } : {}), body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) { toast(await problemText(response), true); return; }
  const text = await response.text();
  onSuccess(text ? JSON.parse(text) : {});
}

function setUpAPIActions() {
  for (const form of document.querySelectorAll("form[data-api]")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      let spec = form.dataset.api;
      for (const element of form.querySelectorAll("[data-path]")) spec = spec.replace("{" + element.name + "}", encodeURIComponent(element.value));
      // data-body-from names a field whose text is the whole JSON body (e.g. a model manifest).
      let body = formJSON(form);
      if (form.dataset.bodyFrom) {
        try {
          body = JSON.parse(form.elements[form.dataset.bodyFrom].value);
        } catch (error) {
          toast(form.dataset.bodyFrom + " is not valid JSON: " + error.message, true);
          return;
        }
      }
      callAPI(spec, body, (result) => {
        const field = form.dataset.show;
        if (field && result[field]) {
          const secret = form.querySelector(".secret");
          secret.querySelector("code").textContent = result[field];
          secret.hidden = false;
        } else {
          location.reload();
        }
      });
    });
  }
  for (const button of document.querySelectorAll("button[data-api]")) {
    button.addEventListener("click", () => {
      if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;
      callAPI(button.dataset.api, button.dataset.body ? JSON.parse(button.dataset.body) : null, () => location.reload());
    });
  }
}

// The jobs page redraws its rows from the API every two seconds: states and progress live.
function followJobs() {
  const table = document.querySelector("table[data-live]");
  if (!table) return;
  const cell = (text, className) => {
    const td = document.createElement("td");
    td.textContent = text === undefined || text === null ? "" : String(text);
    if (className) td.className = className;
    return td;
  };
  const button = (label, spec, question) => {
    const element = document.createElement("button");
    element.textContent = label;
    element.addEventListener("click", () => { if (!question || confirm(question)) callAPI(spec, null, refresh); });
    return element;
  };
  async function refresh() {
    const response = await fetch(table.dataset.live);
    if (!response.ok) return;
    const page = await response.json();
    const body = table.querySelector("tbody");
    body.replaceChildren(...page.items.map((job) => {
      const row = document.createElement("tr");
      row.dataset.id = job.id;
      const bar = document.createElement("progress");
      bar.max = 1;
      bar.value = job.progress;
      const progress = cell("");
      progress.append(bar, " ", job.progress_message || "");
      const actions = cell("");
      if (job.state === "queued" || job.state === "running") actions.append(button("Cancel", "POST /api/v1/jobs/" + job.id + "/cancel", "Cancel job " + job.id + "?"));
      if (job.state === "dead" || job.state === "failed") actions.append(button("Retry", "POST /api/v1/jobs/" + job.id + "/retry"));
      row.append(cell(job.id), cell(job.kind), cell(job.queue), cell(job.state, "state"), progress, cell(job.attempts + "/" + job.max_attempts),
                 cell(job.project_id), cell(job.error, "subject"), actions);
      return row;
    }));
    const empty = document.getElementById("no-jobs");
    if (empty) empty.hidden = page.items.length > 0;
  }
  setInterval(refresh, 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch(() => {});
    // The contributor page is kept for opening offline.
    if (location.pathname.startsWith("/l/")) {
      navigator.serviceWorker.ready.then((registration) => registration.active.postMessage({ keep: location.pathname }));
    }
  }
  setUpAPIActions(); setUpCreateProject(); setUpUpload(); setUpLinkUpload(); setUpCreateLink(); followEvents(); followJobs(); followAnalyses(); followSimilar(); setUpDuplicates(); setUpModelPage(); setUpRepair(); setUpRepairDefault(); });

// The duplicates page: keeping one photo of a group takes the others out of the project.
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
      const note = document.createElement("p");
      note.className = "muted kept";
      note.textContent = "Kept one photo, removed " + body.removed.length + (body.labels.length ? "; its labels: " + body.labels.map((label) => label.name).join(", ") : "");
      group.append(note);
      toast("Kept one photo; " + body.removed.length + " removed from the project");
    });
  }
}

// The repairs page: an owner's switch for the project's default use of similar photos.
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

// The image page: what each model said, refreshed while analyses are queued or running.
function followAnalyses() {
  const section = document.querySelector("[data-analyses]");
  if (!section) return;
  const element = (tag, text, className) => {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  };
  async function refresh() {
    const response = await fetch(section.dataset.analyses);
    if (!response.ok) return;
    const body = await response.json();
    const models = Object.entries(body.models || {}).sort(([a], [b]) => a.localeCompare(b));
    document.getElementById("analyses-empty").hidden = models.length > 0;
    const labels = document.getElementById("analysis-labels");
    const text = document.getElementById("analysis-text");
    const moderation = document.getElementById("analysis-moderation");
    labels.replaceChildren();
    text.replaceChildren();
    moderation.hidden = true;
    for (const [name, status] of models) {
      const result = status.result;
      if (!result) continue;
      if (result.labels) {
        const list = element("ol", undefined, "scores");
        list.dataset.model = name;
        for (const label of result.labels) {
          const item = element("li");
          const bar = element("meter");
          bar.max = 1;
          bar.value = label.score;
          item.append(element("span", label.label, "label-name"), " ", bar, " ", element("span", Math.round(label.score * 100) + "%", "muted"));
          list.append(item);
        }
        labels.append(element("h3", "Labels (" + name + ")"), list);
      }
      if (result.moderation !== undefined && result.moderation !== null) {
        moderation.hidden = false;
        moderation.textContent = "Moderation score (" + name + "): " + result.moderation.toFixed(3);
      }
      if (result.text) {
        text.append(element("h3", "Text found (" + name + ")"));
        if (result.text.length === 0) text.append(element("p", "No text.", "muted"));
        const list = element("ul", undefined, "text-lines");
        for (const line of result.text) list.append(element("li", line.text));
        text.append(list);
      }
    }
    const pending = models.filter(([, status]) => status.state === "queued" || status.state === "running");
    const failed = models.filter(([, status]) => status.state === "failed" || status.state === "dead");
    document.getElementById("analysis-states").textContent =
      (pending.length ? "Still running: " + pending.map(([name]) => name).join(", ") + ". " : "") +
      (failed.length ? "Failed: " + failed.map(([name, status]) => name + " (" + (status.error || "error") + ")").join(", ") : "");
    if (pending.length) setTimeout(refresh, 1500);
  }
  refresh();
}

// The image page: the photos nearest this one by embedding, among those the viewer may see;
// asked again while the photo has no embedding yet (its analysis is still to come).
function followSimilar() {
  const section = document.querySelector("[data-similar]");
  if (!section) return;
  const empty = document.getElementById("similar-empty");
  const photos = document.getElementById("similar-photos");
  let attempts = 0;
  async function refresh() {
    const response = await fetch(section.dataset.similar);
    if (!response.ok) { empty.textContent = await problemText(response); return; }
    const body = await response.json();
    photos.replaceChildren();
    for (const item of body.items) {
      const tile = document.createElement("a");
      tile.className = "tile";
      tile.href = "/images/" + item.sha256;
      const image = document.createElement("img");
      image.src = item.urls.thumbnail_256;
      image.alt = "a similar photo";
      image.loading = "lazy";
      const score = document.createElement("span");
      score.className = "muted similarity";
      score.textContent = Math.round(item.similarity * 100) + "% similar";
      tile.append(image, score);
      photos.append(tile);
    }
    empty.hidden = body.items.length > 0;
    empty.textContent = body.model ? "No other photo you can see is like this one yet." : "Similar photos appear once the photo is analysed.";
    if (!body.model && ++attempts < 20) setTimeout(refresh, 3000);
  }
  refresh();
}

// The model page: the learner's classes, classify, trained classifiers and the test history.
function setUpModelPage() {
  const page = document.getElementById("model-page");
  if (!page) return;
  const base = "/api/v1/projects/" + page.dataset.project;
  const canEdit = page.dataset.canEdit === "true";
  const percent = (value) => (value * 100).toFixed(1) + "%";
  const when = (text) => String(text).replace("T", " ").replace("Z", "").slice(0, 19);
  const element = (tag, text, className) => {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  };

  const modelSelect = document.getElementById("learner-model");
  let learnerState = null;
  document.getElementById("model-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const model = modelSelect.value;
    if (!learnerState || model === learnerState.model) return;
    if (learnerState.classes.length && !confirm("Rebuild the " + learnerState.classes.length + " classes over " + model +
        "? Every example is embedded again; the learner keeps answering over " + learnerState.model + " until it is done.")) return;
    const answer = await fetch(base + "/learner", {
      method: "PATCH", headers: csrfHeaders({ "Content-Type": "application/json" }), body: JSON.stringify({ model }) });
    if (answer.ok) { toast("The learner now uses " + model); loadClasses(); } else toast(await problemText(answer), true);
  });

  async function loadClasses() {
    const response = await fetch(base + "/learner");
    if (!response.ok) { toast(await problemText(response), true); return; }
    const learner = await response.json();
    scaleInput.value = String(learner.threshold_scale || 1);
    showScale();
    learnerState = learner;
    modelSelect.replaceChildren(...(learner.models || [learner.model]).map((name) => {
      const option = element("option", name);
      option.value = name;
      option.selected = name === learner.model;
      return option;
    }));
    const box = document.getElementById("classes");
    box.replaceChildren();
    document.getElementById("learner-summary").textContent = learner.classes.length
      ? learner.classes.length + " classes, " + learner.count + " examples, over " + learner.model +
        (learner.rebuilding ? " (rebuilding: every example is being embedded again…)" : "") +
        (learner.consolidated_at && !learner.rebuilding ? "; consolidated " + when(learner.consolidated_at) : "")
      : "No classes yet. Add one from a zip of its images" + (canEdit ? " below." : " (editors can).");
    if (learner.rebuilding) setTimeout(loadClasses, 2000);
    for (const item of learner.classes) {
      const card = element("div", undefined, "class-card");
      card.dataset.name = item.name;
      card.appendChild(element("h3", item.name));
      card.appendChild(element("p", item.count + " examples · noise " + item.noise_mean.toFixed(3) + " ± " + item.noise_std.toFixed(3) + " · threshold " + item.threshold.toFixed(3), "muted"));
      const strip = element("div", undefined, "thumbs");
      for (const sha256 of item.examples) {
        const image = element("img");
        image.src = "/api/v1/images/" + sha256 + "/thumbnail?size=256";
        image.alt = item.name;
        strip.appendChild(image);
      }
      card.appendChild(strip);
      if (canEdit) {
        const remove = element("button", "Remove", "danger");
        remove.type = "button";
        remove.addEventListener("click", async () => {
          if (!confirm("Remove the class " + item.name + "? Its images stay in the project.")) return;
          const answer = await fetch(base + "/learner/classes/" + encodeURIComponent(item.name), { method: "DELETE", headers: csrfHeaders() });
          if (answer.ok) { toast("Removed " + item.name); loadClasses(); } else toast(await problemText(answer), true);
        });
        card.appendChild(remove);
      }
      box.appendChild(card);
    }
  }

  const addForm = document.getElementById("add-class");
  if (addForm) addForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const bar = document.getElementById("add-class-progress");
    const result = document.getElementById("add-class-result");
    const request = new XMLHttpRequest();
    request.open("POST", base + "/learner/classes");
    for (const [name, value] of Object.entries(csrfHeaders())) request.setRequestHeader(name, value);
    bar.hidden = false;
    bar.value = 0;
    result.textContent = "Uploading…";
    request.upload.onprogress = (progress) => {
      if (progress.lengthComputable) bar.value = progress.loaded / progress.total;
      if (progress.loaded === progress.total) result.textContent = "Embedding the images…";
    };
    request.onload = () => {
      bar.hidden = true;
      let body = {};
      try { body = JSON.parse(request.responseText); } catch (_) { /* not JSON */ }
      if (request.status === 201) {
        const skipped = (body.skipped || []).map((item) => item.path + " (" + item.reason + ")");
        result.textContent = "Added " + body.name + " from " + body.added + " images." + (skipped.length ? " Skipped: " + skipped.join(", ") : "");
        toast("Class " + body.name + " added");
        addForm.reset();
        loadClasses();
      } else {
        result.textContent = body.detail || request.statusText;
        toast(body.detail || request.statusText, true);
      }
    };
    request.onerror = () => { bar.hidden = true; toast("the upload failed", true); };
    request.send(new FormData(addForm));
  });

  // Learning a class from images the project already has, by their human label.
  const fromLabel = document.getElementById("add-from-label");
  if (fromLabel) {
    fetch(base).then((response) => response.ok ? response.json() : {}).then((project) => {
      const list = document.getElementById("project-labels");
      for (const label of project.label_set || []) { const option = element("option"); option.value = label; list.appendChild(option); }
    });
    fromLabel.addEventListener("submit", async (event) => {
      event.preventDefault();
      const label = fromLabel.elements.from_label.value.trim();
      const name = fromLabel.elements.name.value.trim() || label;
      const result = document.getElementById("add-class-result");
      result.textContent = "Embedding the images labelled " + label + "…";
      const answer = await fetch(base + "/learner/classes", {
        method: "POST", headers: csrfHeaders({ "Content-Type": "application/json" }), body: JSON.stringify({ name, from_label: label }) });
      if (answer.ok) {
        const body = await answer.json();
        const missing = (body.not_embedded || []).length;
        result.textContent = "Learned " + body.name + " from " + body.added + " images labelled " + label + "." + (missing ? " " + missing + " could not be embedded." : "");
        toast("Class " + body.name + " learned from its label");
        fromLabel.reset();
        loadClasses();
      } else {
        result.textContent = await problemText(answer);
        toast(result.textContent, true);
      }
    });
  }

  // The reset is destructive: it waits for the project's name to be typed.
  const resetForm = document.getElementById("reset-form");
  if (resetForm) {
    const typed = document.getElementById("reset-confirm");
    const button = document.getElementById("reset-learner");
    typed.addEventListener("input", () => { button.disabled = typed.value.trim() !== page.dataset.projectName; });
    resetForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (typed.value.trim() !== page.dataset.projectName) return;
      const answer = await fetch(base + "/learner/reset", { method: "POST", headers: csrfHeaders() });
      if (answer.ok) { toast("The learner was reset"); resetForm.reset(); button.disabled = true; loadClasses(); }
      else toast(await problemText(answer), true);
    });
  }

  // The owner's factor on the threshold, with the latest learner test's curve beside it.
  const scaleInput = document.getElementById("threshold-scale");
  const scaleOutput = document.getElementById("threshold-value");
  let latestCurve = null;
  function showScale() {
    const factor = Number(scaleInput.value);
    scaleOutput.textContent = "×" + factor.toFixed(2);
    const effect = document.getElementById("threshold-effect");
    if (!latestCurve || !latestCurve.length) {
      effect.textContent = "Test the learner (below) to see what each factor gives.";
    } else {
      const nearest = latestCurve.reduce((best, point) => Math.abs(point.factor - factor) < Math.abs(best.factor - factor) ? point : best);
      effect.textContent = "At ×" + nearest.factor.toFixed(2) + " the latest test answered " + percent(nearest.coverage) +
        " of its photos with a class, " + percent(nearest.accuracy) + " of them right.";
    }
    drawThreshold();
  }
  function drawThreshold() {
    const box = document.getElementById("threshold-chart");
    box.replaceChildren();
    if (!latestCurve || !latestCurve.length) return;
    const width = 640, height = 180, pad = 32;
    const chart = svg("svg", { viewBox: "0 0 " + width + " " + height, class: "chart", role: "img", "aria-label": "coverage and accuracy at each threshold factor" });
    const x = (factor) => pad + (factor - 0.5) / 1.5 * (width - 2 * pad);
    const y = (value) => height - pad - value * (height - 2 * pad);
    percentGrid(chart, width, pad, y);
    for (const factor of [0.5, 1, 1.5, 2]) {
      const label = svg("text", { x: x(factor) - 8, y: height - 8, class: "axis" });
      label.textContent = "×" + factor;
      chart.appendChild(label);
    }
    const inRange = latestCurve.filter((point) => point.factor >= 0.5 && point.factor <= 2);
    for (const [key, name] of [["coverage", "answered with a class"], ["accuracy", "right among those"]]) {
      const line = svg("polyline", { points: inRange.map((point) => x(point.factor) + "," + y(point[key])).join(" "), class: "series " + key });
      const title = svg("title");
      title.textContent = name;
      line.appendChild(title);
      chart.appendChild(line);
    }
    for (const [index, key, name] of [[0, "coverage", "answered with a class"], [1, "accuracy", "right among those"]]) {
      const legend = svg("text", { x: width - pad - 150, y: pad + 14 * index + 30, class: "axis legend " + key });
      legend.textContent = "— " + name;
      chart.appendChild(legend);
    }
    const factor = Number(scaleInput.value);
    chart.appendChild(svg("line", { x1: x(factor), x2: x(factor), y1: pad / 2, y2: height - pad, class: "marker" }));
    box.appendChild(chart);
  }
  function drawCurve(runs) {
    const run = runs.find((item) => item.target === "learner" && item.report && item.report.coverage);
    const used = run ? (run.report.threshold_scale || 1) : 1;
    latestCurve = run ? run.report.coverage.map((point) => ({ factor: point.ratio * used, coverage: point.coverage, accuracy: point.accuracy })) : null;
    showScale();
  }
  scaleInput.addEventListener("input", showScale);
  const thresholdForm = document.getElementById("threshold-form");
  thresholdForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const factor = Number(scaleInput.value);
    const answer = await fetch(base + "/learner", {
      method: "PATCH", headers: csrfHeaders({ "Content-Type": "application/json" }), body: JSON.stringify({ threshold_scale: factor }) });
    if (answer.ok) { toast("Threshold factor set to ×" + factor.toFixed(2)); loadClasses(); } else toast(await problemText(answer), true);
  });

  async function classify(files) {
    const list = document.getElementById("classify-results");
    for (const file of files) {
      const form = new FormData();
      form.append("file", file, file.name);
      const row = element("li");
      row.appendChild(element("span", file.name, "name"));
      const status = element("span", "classifying…", "answer");
      row.appendChild(status);
      list.prepend(row);
      const response = await fetch(base + "/learner/classify", { method: "POST", headers: csrfHeaders(), body: form });
      if (!response.ok) { status.textContent = await problemText(response); row.classList.add("error"); continue; }
      const item = (await response.json()).items[0];
      if (item.error) { status.textContent = item.error.detail; row.classList.add("error"); continue; }
      status.textContent = item.unknown ? "unknown" : item.label;
      if (item.confidence !== undefined) row.appendChild(element("span", "the nearest class is " + percent(item.confidence) + " likely right", "confidence"));
      row.classList.add(item.unknown ? "unknown" : "known");
      const ranked = element("span", item.ranked.slice(0, 3).map((r) =>
        r.label + " " + percent(r.confidence) + " (distance " + r.distance.toFixed(3) + " / " + r.threshold.toFixed(3) + ")").join(" · "), "muted");
      row.appendChild(ranked);
    }
  }
  const classifyInput = document.getElementById("classify-files");
  classifyInput.addEventListener("change", () => { if (classifyInput.files.length) classify(Array.from(classifyInput.files)); });
  const zone = document.getElementById("classify-zone");
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => { event.preventDefault(); zone.classList.remove("over"); classify(Array.from(event.dataTransfer.files)); });

  async function loadClassifiers() {
    const response = await fetch(base + "/classifiers");
    if (!response.ok) return;
    const body = document.querySelector("#classifiers tbody");
    body.replaceChildren();
    for (const item of (await response.json()).items) {
      const row = element("tr");
      const training = item.training || {};
      for (const text of ["v" + item.version + (item.active ? " (active)" : ""), item.classes.join(", "), String(training.train_count || 0),
        percent(training.validation_accuracy || 0), String((training.epochs || []).length), when(item.created_at)]) row.appendChild(element("td", text));
      const cell = element("td");
      if (canEdit && !item.active) {
        const activate = element("button", "Make active");
        activate.type = "button";
        activate.addEventListener("click", async () => {
          const answer = await fetch(base + "/classifiers/" + item.version + "/activate", { method: "POST", headers: csrfHeaders() });
          if (answer.ok) { toast("v" + item.version + " is active; it labelled " + (await answer.json()).labelled + " images"); loadClassifiers(); }
          else toast(await problemText(answer), true);
        });
        cell.appendChild(activate);
      }
      row.appendChild(cell);
      body.appendChild(row);
    }
  }

  // A job was queued: refresh until it has finished.
  async function afterJob(response, what) {
    if (!response.ok) { toast(await problemText(response), true); return; }
    const job = await response.json();
    toast(what + " queued (job " + job.id + ")");
    for (let i = 0; i < 120; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const state = await (await fetch("/api/v1/jobs/" + job.id)).json();
      if (["succeeded", "failed", "dead", "cancelled"].includes(state.state)) {
        toast(what + " " + state.state + (state.error ? ": " + state.error : ""), state.state !== "succeeded");
        loadClassifiers(); loadEvaluations();
        return;
      }
    }
  }
  const post = (path, body) => fetch(base + path, {
    method: "POST", headers: csrfHeaders({ "Content-Type": "application/json" }), body: JSON.stringify(body) });
  for (const [id, path, body, what] of [
    ["train", "/classifiers", { activate: true }, "Training"],
    ["evaluate-learner", "/evaluations", { target: "learner" }, "Testing the learner"],
    ["evaluate-classifier", "/evaluations", { target: "classifier" }, "Testing the classifier"],
  ]) {
    const button = document.getElementById(id);
    if (button) button.addEventListener("click", async () => afterJob(await post(path, body), what));
  }

  const svg = (tag, attributes) => {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
    return node;
  };

  // Horizontal lines at 0, 50 and 100%, labelled on the left.
  function percentGrid(chart, width, pad, y) {
    for (const tick of [0, 0.5, 1]) {
      chart.appendChild(svg("line", { x1: pad, x2: width - pad, y1: y(tick), y2: y(tick), class: "grid" }));
      const label = svg("text", { x: 2, y: y(tick) + 4, class: "axis" });
      label.textContent = (tick * 100) + "%";
      chart.appendChild(label);
    }
  }

  // Accuracy of every run, oldest left: one line per target.
  function drawHistory(runs) {
    const box = document.getElementById("history-chart");
    box.replaceChildren();
    if (!runs.length) { box.appendChild(element("p", "No tests yet.", "muted")); return; }
    const width = 640, height = 200, pad = 32;
    const chart = svg("svg", { viewBox: "0 0 " + width + " " + height, class: "chart", role: "img", "aria-label": "accuracy of each test run" });
    const ordered = runs.slice().reverse();
    const x = (index) => pad + (ordered.length === 1 ? (width - 2 * pad) / 2 : index * (width - 2 * pad) / (ordered.length - 1));
    const y = (value) => height - pad - value * (height - 2 * pad);
    percentGrid(chart, width, pad, y);
    for (const target of ["learner", "classifier"]) {
      const points = ordered.map((run, index) => [run, index]).filter(([run]) => run.target === target && run.report);
      if (!points.length) continue;
      chart.appendChild(svg("polyline", { points: points.map(([run, index]) => x(index) + "," + y(run.report.accuracy)).join(" "), class: "series " + target }));
      for (const [run, index] of points) {
        const dot = svg("circle", { cx: x(index), cy: y(run.report.accuracy), r: 4, class: "series " + target });
        const title = svg("title");
        title.textContent = target + " run " + run.id + ": " + percent(run.report.accuracy);
        dot.appendChild(title);
        chart.appendChild(dot);
      }
    }
    box.appendChild(chart);
  }

  // Rows are true classes, columns answers (the last is unknown); darker is more.
  function drawConfusion(run) {
    const box = document.getElementById("evaluation-detail");
    box.replaceChildren();
    const report = run.report;
    box.appendChild(element("h3", "Run " + run.id + ": " + run.target + (run.version ? " v" + run.version : "") + " on the " + run.split + " split"));
    const columns = report.labels.concat(["unknown"]);
    const cell = 36, left = 120, top = 90;
    const chart = svg("svg", { viewBox: "0 0 " + (left + cell * columns.length + 10) + " " + (top + cell * report.labels.length + 10), class: "confusion", role: "img", "aria-label": "confusion matrix" });
    const most = Math.max(1, ...report.confusion.flat());
    report.confusion.forEach((row, r) => {
      const name = svg("text", { x: left - 6, y: top + r * cell + cell / 2 + 4, "text-anchor": "end", class: "axis" });
      name.textContent = report.labels[r];
      chart.appendChild(name);
      row.forEach((count, c) => {
        chart.appendChild(svg("rect", { x: left + c * cell, y: top + r * cell, width: cell - 2, height: cell - 2,
          class: r === c ? "hit" : "miss", "fill-opacity": 0.1 + 0.9 * count / most }));
        const number = svg("text", { x: left + c * cell + cell / 2 - 1, y: top + r * cell + cell / 2 + 4, "text-anchor": "middle", class: "count" });
        number.textContent = count;
        chart.appendChild(number);
      });
    });
    columns.forEach((label, c) => {
      const name = svg("text", { x: 0, y: 0, class: "axis", transform: "translate(" + (left + c * cell + cell / 2) + "," + (top - 6) + ") rotate(-50)" });
      name.textContent = label;
      chart.appendChild(name);
    });
    box.appendChild(chart);
    const table = element("table");
    table.appendChild(element("tr")).append(...["Class", "Images", "Precision", "Recall", "F1"].map((h) => element("th", h)));
    for (const item of report.classes) {
      table.appendChild(element("tr")).append(...[item.label, String(item.support), percent(item.precision), percent(item.recall), percent(item.f1)].map((t) => element("td", t)));
    }
    box.appendChild(table);
    if (report.coverage) {
      box.appendChild(element("p", "Accuracy / coverage: " + report.coverage.map((p) =>
        "×" + p.ratio + " → " + percent(p.accuracy) + " of " + percent(p.coverage)).join(" · "), "muted"));
    }
  }

  async function loadEvaluations() {
    const response = await fetch(base + "/evaluations");
    if (!response.ok) return;
    const runs = (await response.json()).items;
    drawHistory(runs);
    drawCurve(runs);
    const body = document.querySelector("#evaluations tbody");
    body.replaceChildren();
    for (const run of runs) {
      const row = element("tr");
      row.dataset.run = run.id;
      const report = run.report || {};
      for (const text of [String(run.id), run.target + (run.version ? " v" + run.version : ""), String(report.count || 0), percent(report.accuracy || 0),
        percent(report.top_k_accuracy || 0), percent(report.unknown_rate || 0), when(run.created_at)]) row.appendChild(element("td", text));
      row.addEventListener("click", () => drawConfusion(run));
      body.appendChild(row);
    }
    if (runs.length) drawConfusion(runs[0]);
  }

  loadClasses(); loadClassifiers(); loadEvaluations();
}

// The image page's Repair mode: brush a mask over the photo (mouse or touch), Go queues a
// repair job, its progress shows, and the result appears beside the original with a
// before/after slider, to keep or discard.
function setUpRepair() {
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
    const layer = document.createElement("canvas");
    layer.width = width;
    layer.height = height;
    const layerContext = layer.getContext("2d");
    for (const stroke of strokes) paint(layerContext, Object.assign({}, stroke, { colour: "#fff" }), scale);
    const mask = document.createElement("canvas");
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
