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

// XMLHttpRequest rather than fetch: it reports upload progress per file.
function uploadOne(projectId, file, label, row, url) {
  return new Promise((resolve) => {
    const form = new FormData();
    form.append("file", file, file.name);
    if (label) form.append("label", label);
    const request = new XMLHttpRequest();
    const bar = row.querySelector("progress");
    const status = row.querySelector(".status");
    request.upload.onprogress = (event) => { if (event.lengthComputable) bar.value = event.loaded / event.total; };
    request.onload = () => {
      let body = {};
      try { body = JSON.parse(request.responseText); } catch (_) {}
      if (request.status >= 200 && request.status < 300) {
        bar.value = 1;
        status.textContent = body.duplicate ? "already stored" : "uploaded";
        resolve(true);
      } else {
        status.textContent = body.detail || request.statusText;
        status.className = "status error";
        resolve(false);
      }
    };
    request.onerror = () => { status.textContent = "network error"; status.className = "status error"; resolve(false); };
    request.open("POST", url || "/api/v1/projects/" + projectId + "/images");
    for (const [name, value] of Object.entries(csrfHeaders())) request.setRequestHeader(name, value);
    request.send(form);
  });
}

function setUpUpload() {
  const zone = document.getElementById("upload");
  if (!zone) return;
  const input = document.getElementById("files");
  const list = document.getElementById("progress");
  const projectId = zone.dataset.project;
  async function send(files) {
    const label = (document.getElementById("label") || {}).value || "";
    let ok = 0;
    for (const file of files) {
      const row = document.createElement("li");
      row.innerHTML = "<span class=name></span><progress max=1 value=0></progress><span class=status>waiting</span>";
      row.querySelector(".name").textContent = file.name;
      list.appendChild(row);
      if (await uploadOne(projectId, file, label, row)) ok += 1;
    }
    toast(ok + " of " + files.length + " uploaded", ok !== files.length);
    if (ok > 0) setTimeout(() => location.reload(), 600);
  }
  document.getElementById("upload-button").addEventListener("click", () => send(Array.from(input.files)));
  input.addEventListener("change", () => { if (input.files.length) send(Array.from(input.files)); });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    send(Array.from(event.dataTransfer.files));
  });
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

// The contributor link page: no account, the link's code is the permission.
function setUpLinkUpload() {
  const section = document.getElementById("link-upload");
  if (!section) return;
  const input = document.getElementById("link-files");
  const list = document.getElementById("progress");
  const url = "/api/v1/links/" + section.dataset.code + "/images";
  input.addEventListener("change", async () => {
    const label = (document.getElementById("link-label") || {}).value || "";
    let ok = 0;
    const files = Array.from(input.files);
    for (const file of files) {
      const row = document.createElement("li");
      row.innerHTML = "<span class=name></span><progress max=1 value=0></progress><span class=status>waiting</span>";
      row.querySelector(".name").textContent = file.name;
      list.appendChild(row);
      if (await uploadOne(null, file, label, row, url)) ok += 1;
    }
    toast(ok + " of " + files.length + " uploaded. Thank you!", ok !== files.length);
    input.value = "";
  });
}

// Signed-in pages follow the audit log live and show each new event as a notification.
function followEvents() {
  if (!document.querySelector("meta[name=csrf-token]") || !window.EventSource) return;
  const source = new EventSource("/api/v1/events");
  source.onmessage = null;
  const show = (message) => {
    try {
      const event = JSON.parse(message.data);
      const where = event.project_id ? " in project " + event.project_id : "";
      toast(event.actor + ": " + event.action.replace(/[._]/g, " ") + where, event.action.includes("failed"));
    } catch (_) {}
  };
  for (const name of ["image.uploaded", "image.removed", "import.completed", "project.created", "project.updated", "project.deleted",
                      "member.role_set", "member.removed", "link.created", "link.revoked", "token.created", "token.revoked",
                      "user.created", "user.disabled", "auth.sign_in_failed", "webhook.created", "webhook.deleted",
                      "job.cancelled", "job.retried", "job.dead", "job.failed"]) {
    source.addEventListener(name, show);
  }
}

// Forms and buttons marked data-api="METHOD /path" call the API with the session's CSRF
// token, then reload (or show the field named by data-show, e.g. a new token's secret).
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
      callAPI(spec, formJSON(form), (result) => {
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
    button.addEventListener("click", () => callAPI(button.dataset.api, button.dataset.body ? JSON.parse(button.dataset.body) : null, () => location.reload()));
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
  const button = (label, spec) => {
    const element = document.createElement("button");
    element.textContent = label;
    element.addEventListener("click", () => callAPI(spec, null, refresh));
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
      if (job.state === "queued" || job.state === "running") actions.append(button("Cancel", "POST /api/v1/jobs/" + job.id + "/cancel"));
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
  setUpAPIActions(); setUpCreateProject(); setUpUpload(); setUpLinkUpload(); setUpCreateLink(); followEvents(); followJobs(); followAnalyses(); });

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
