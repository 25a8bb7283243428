// Iris web UI: small, dependency-free. Every action goes through /api/v1.
//
// What every page shares. Each page template loads one module of its own (project.js,
// link.js, model.js, …), which imports from here and calls startPage() before setting up
// its own parts; pages with nothing of their own load plain.js, which only calls startPage().
// Module scripts run once the document is parsed, so a page module finds the whole page.

// Every change made from a signed-in page carries the session's CSRF token.
export function csrfHeaders(extra) {
  const meta = document.querySelector("meta[name=csrf-token]");
  return Object.assign(meta ? { "X-CSRF-Token": meta.content } : {}, extra || {});
}

// A new element with its text and class (either may be left out): the pages draw their rows,
// cards and notes with it, and text always goes in as text, never as HTML.
export function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

// A share (0…1) as a whole percentage: "73%".
export function percent(value) {
  return Math.round(value * 100) + "%";
}

export function toast(message, isError) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = element("div", message, "toast" + (isError ? " error" : ""));
  box.appendChild(item);
  // At most three at once: older ones give way, so they never cover a phone's screen.
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => item.remove(), 6000);
}

export async function problemText(response) {
  try {
    const body = await response.json();
    return body.detail || body.title || response.statusText;
  } catch (_) {
    return response.statusText;
  }
}

// Forms and buttons marked data-api="METHOD /path" call the API with the session's CSRF
// token, then reload (or show the field named by data-show, e.g. a new token's secret).
// A button with data-confirm="question" asks first (every destructive one has it).
export function formJSON(form) {
  const body = {};
  for (const field of form.elements) {
    if (!field.name || field.dataset.path !== undefined) continue;
    if (field.type === "checkbox") {
      if (field.name === "scopes") { if (field.checked) (body.scopes = body.scopes || []).push(field.value); }
      else body[field.name] = field.checked;
    } else if (field.value !== "") {
      body[field.name] = field.type === "number" || field.dataset.number !== undefined ? Number(field.value) : field.value;
    }
  }
  return body;
}

// While `work` runs, the form shows it is working: its submit buttons are disabled (no double
// submit) and say so, and the form is aria-busy for screen readers.
export async function busy(form, work) {
  const buttons = [...form.querySelectorAll("button[type=submit], button:not([type])")];
  const labels = buttons.map((button) => button.textContent);
  form.setAttribute("aria-busy", "true");
  for (const button of buttons) { button.disabled = true; button.textContent = button.textContent.trim() + "…"; }
  try {
    return await work;
  } finally {
    form.removeAttribute("aria-busy");
    buttons.forEach((button, index) => { button.disabled = false; button.textContent = labels[index]; });
  }
}

// A JSON request with the session's CSRF header: the answer's JSON ({} when empty), or an
// Error carrying the problem's words.
export async function sendJSON(method, path, body) {
  const response = await fetch(path, {
    method, headers: csrfHeaders(body ? { "Content-Type": "application/json" } : {}), body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(await problemText(response));
  const text = await response.text();
  return text ? JSON.parse(text) : {};
}

export async function callAPI(spec, body, onSuccess) {
  const [method, ...rest] = spec.split(" ");
  let response;
  try {
    response = await fetch(rest.join(" "), {
      method, headers: csrfHeaders(body ? { "Content-Type": "application/json" } : {}), body: body ? JSON.stringify(body) : undefined,
    });
  } catch (_) {
    toast("The server cannot be reached; try again in a moment.", true);
    return;
  }
  if (!response.ok) { toast(await problemText(response), true); return; }
  const text = await response.text();
  onSuccess(text ? JSON.parse(text) : {});
}

function setUpAPIActions() {
  for (const form of document.querySelectorAll("form[data-api]")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      let spec = form.dataset.api;
      for (const field of form.querySelectorAll("[data-path]")) spec = spec.replace("{" + field.name + "}", encodeURIComponent(field.value));
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
      busy(form, callAPI(spec, body, (result) => {
        // data-done: say so and clear the form (a password change: nothing on the page changes).
        // data-then: go there after a moment (a changed password has ended the session).
        if (form.dataset.done) {
          toast(form.dataset.done);
          form.reset();
          if (form.dataset.then) setTimeout(() => { location.href = form.dataset.then; }, 1500);
          return;
        }
        const field = form.dataset.show;
        if (field && result[field]) {
          const secret = form.querySelector(".secret");
          secret.querySelector("code").textContent = result[field];
          secret.hidden = false;
          form.reset();
          refreshLists();
        } else if (form.hasAttribute("data-refresh")) {
          // data-refresh: the action shows in the page's lists, redrawn in place.
          toast(form.dataset.refresh || "Saved");
          form.reset();
          refreshLists();
        } else {
          location.reload();
        }
      }));
    });
  }
  // One listener for every data-api button, those in lists redrawn since included. A button in
  // a live list redraws the lists; elsewhere the page reloads.
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-api]");
    if (!button) return;
    if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;
    button.disabled = true;
    callAPI(button.dataset.api, button.dataset.body ? JSON.parse(button.dataset.body) : null,
      () => (button.closest("[data-live-list]") ? refreshLists() : location.reload()))
      .finally(() => { button.disabled = false; });
  });
}

// Redraws the page's lists (elements with data-live-list and an id) from the page as the server
// draws it now: after an action the list shows it, and nothing else on the page (an open
// section, a shown secret, the scroll position) is lost.
export async function refreshLists() {
  try {
    const response = await fetch(location.href, { headers: { Accept: "text/html" } });
    if (!response.ok) { location.reload(); return; }
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const list of document.querySelectorAll("[data-live-list][id]")) {
      const replacement = fresh.getElementById(list.id);
      if (replacement) list.replaceWith(document.importNode(replacement, true));
    }
    labelStackedCells();
  } catch (_) {
    location.reload();
  }
}

// The offline upload queue, used by the project page and the contributor link page. Photos go
// into IndexedDB first (database "iris-uploads"), then are sent one by one: each is hashed
// (when the page may use WebCrypto) and checked against the project, so nothing is sent twice;
// a network error, a 408, 429 or 5xx leaves it waiting, and the queue tries again when the
// browser comes back online and every 5 s. The queue outlives the page: opening it again shows
// what waits and sends it. A refusal is shown and dropped.
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

// With `remember` (the contributor page), what was sent is kept on this device (localStorage,
// the newest 100 per link) and listed again when the page opens: a reload loses nothing.
const SENT_KEPT = 100;

export function offlineQueue(target, checkURL, list, finished, remember = false) {
  const status = document.getElementById("queue-status");
  const sentKey = "iris-sent:" + target;
  let flushing = false;
  let retry = null;
  let sent = 0;
  let refused = 0;
  let notes = [];  // what a round did besides storing photos ("label oak added"), for its end

  function rowFor(entry) {
    let row = list.querySelector('[data-entry="' + entry.id + '"]');
    if (!row) {
      row = element("li");
      row.dataset.entry = entry.id;
      const bar = element("progress");
      bar.max = 1;
      bar.value = 0;
      row.append(element("span", entry.name, "name"), bar, element("span", "waiting", "status"));
      list.appendChild(row);
    }
    return row;
  }

  function sentBefore() {
    try { return JSON.parse(localStorage.getItem(sentKey)) || []; } catch (_) { return []; }
  }

  function keepSent(entry, row) {
    if (!remember) return;
    const state = row.querySelector(".status");
    const kept = sentBefore().concat([{ name: entry.name, state: state.textContent, refused: state.classList.contains("error"), at: Date.now() }]);
    try { localStorage.setItem(sentKey, JSON.stringify(kept.slice(-SENT_KEPT))); } catch (_) { /* storage full or off: the list is this page's only */ }
  }

  // What earlier visits sent, oldest first, above what this one sends.
  if (remember) {
    for (const kept of sentBefore()) {
      const row = element("li", undefined, "sent-before");
      const bar = element("progress");
      bar.max = 1;
      bar.value = 1;
      row.append(element("span", kept.name, "name"), bar, element("span", kept.state, kept.refused ? "status error" : "status"));
      row.title = new Date(kept.at).toLocaleString();
      list.appendChild(row);
    }
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
        keepSent(entry, rowFor(entry));
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
    // Whether this device keeps a list of what it sent here, and forgetting it (a shared phone).
    get remembers() { return remember && sentBefore().length > 0; },
    forget() {
      try { localStorage.removeItem(sentKey); } catch (_) { /* nothing kept */ }
      for (const row of list.querySelectorAll(".sent-before")) row.remove();
    },
  };
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
  "job.cancelled", "job.retried", "job.dead", "job.failed", "model.registered", "model.removed", "label.changed"];

// A label change writes one label.changed event per photo (a bulk change ten thousand): they are
// gathered by their operation and shown as one notification once none has come for a second,
// "alice relabelled 10000 photos in Birds".
const gathered = new Map();
function gatherLabelChange(event, where) {
  const key = event.detail && event.detail.operation ? event.detail.operation : "event " + event.id;
  let group = gathered.get(key);
  if (!group) {
    group = { count: 0, timer: null };
    gathered.set(key, group);
  }
  group.count += 1;
  clearTimeout(group.timer);
  group.timer = setTimeout(() => {
    gathered.delete(key);
    const photos = group.count === 1 ? "a photo" : group.count.toLocaleString() + " photos";
    toast(event.actor + " relabelled " + photos + where);
  }, 1000);
}

function followEvents() {
  if (!document.querySelector("meta[name=csrf-token]") || !window.EventSource) return;
  const show = (data) => {
    try {
      const event = JSON.parse(data);
      const where = event.project_name ? " in " + event.project_name : event.project_id ? " in project " + event.project_id : "";
      if (event.action === "label.changed") { gatherLabelChange(event, where); return; }
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

function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js").catch(() => {});
  // The contributor page is kept for opening offline.
  if (location.pathname.startsWith("/l/")) {
    navigator.serviceWorker.ready.then((registration) => registration.active.postMessage({ keep: location.pathname }));
  }
}

// What every page does first: the service worker, the data-api forms and buttons, and (signed
// in) the live notifications.
export function startPage() {
  registerServiceWorker();
  setUpAPIActions();
  followEvents();
  labelStackedCells();
}

// On a phone a table.stack shows each row as a card (app.css): every cell is named by its
// column's heading (data-label), now and whenever rows are added.
function labelStackedCells() {
  for (const table of document.querySelectorAll("table.stack")) {
    const headings = Array.from(table.querySelectorAll("thead th"), (heading) => heading.textContent.trim());
    const label = () => {
      for (const row of table.querySelectorAll("tbody tr")) {
        Array.from(row.children).forEach((cell, index) => { if (headings[index]) cell.dataset.label = headings[index]; });
      }
    };
    label();
    if (table.dataset.labelled) continue;
    table.dataset.labelled = "true";
    new MutationObserver(label).observe(table, { childList: true, subtree: true });
  }
}
