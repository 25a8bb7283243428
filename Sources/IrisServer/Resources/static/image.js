// The image page (image.mustache): the photo's labels in each project (their history, and
// correcting them), what each model said, the similar photos, and Repair mode.
import { csrfHeaders, element, problemText, startPage, toast } from "./common.js";
import { setUpRepair } from "./repair-editor.js";

// What each model said, refreshed while analyses are queued or running.
function followAnalyses() {
  const section = document.querySelector("[data-analyses]");
  if (!section) return;
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

// The photos nearest this one by embedding, among those the viewer may see;
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
      const tile = element("a", undefined, "tile");
      tile.href = "/images/" + item.sha256;
      const image = element("img");
      image.src = item.urls.thumbnail_256;
      image.alt = "a similar photo";
      image.loading = "lazy";
      tile.append(image, element("span", Math.round(item.similarity * 100) + "% similar", "muted similarity"));
      photos.append(tile);
    }
    empty.hidden = body.items.length > 0;
    empty.textContent = body.model ? "No other photo you can see is like this one yet." : "Similar photos appear once the photo is analysed.";
    if (!body.model && ++attempts < 20) setTimeout(refresh, 3000);
  }
  refresh();
}

// One change to a photo's labels, as the history lists it: "robin — added by alice on …",
// "sparrow added, robin removed by bob (token laptop) on …", and an undo says which change it undid.
function describeChange(step) {
  let what;
  if (step.added.length && !step.removed.length) what = step.added.join(", ") + " — added";
  else if (step.removed.length && !step.added.length) what = step.removed.join(", ") + " — removed";
  else what = step.added.map((name) => name + " added").concat(step.removed.map((name) => name + " removed")).join(", ");
  const at = new Date(step.at);
  const pad = (n) => String(n).padStart(2, "0");
  const when = at.getFullYear() + "-" + pad(at.getMonth() + 1) + "-" + pad(at.getDate()) + " " + pad(at.getHours()) + ":" + pad(at.getMinutes());
  // The upload comes first, without an operation: "Uploaded with robin by link garden on …".
  if (step.operation == null) {
    return "Uploaded" + (step.added.length ? " with " + step.added.join(", ") : " without labels") + " by " + step.actor + " on " + when;
  }
  return "Change " + step.operation + ": " + what + " by " + step.actor + " on " + when +
    (step.undoes ? " (undo of change " + step.undoes + ")" : "");
}

// The photo's labels in each project holding it: the history of their changes (who, when), and
// for editors a form that replaces them. Save sends the version the form was filled from
// (If-Match), so a change someone made meanwhile is never overwritten: the form is refilled
// from the labels as they are now, and says so.
function setUpLabels() {
  const list = document.getElementById("memberships");
  if (!list) return;
  for (const item of list.querySelectorAll("li[data-project]")) membershipLabels(item, list.dataset.sha256);
}

function membershipLabels(item, sha256) {
  const projectId = item.dataset.project;
  const url = "/api/v1/projects/" + projectId + "/images/" + sha256 + "/labels";
  const history = item.querySelector(".label-history");
  const changes = item.querySelector(".label-changes");
  const status = item.querySelector(".label-status");
  const openButton = item.querySelector(".edit-labels");
  const form = item.querySelector(".label-editor");
  let state = null;  // the labels and version last read (GET) or written (PUT)
  let labelSet;  // the project's label set (null: any label), read when the form first opens

  async function load() {
    const response = await fetch(url);
    if (!response.ok) { status.textContent = await problemText(response); return false; }
    state = await response.json();
    const steps = state.history || [];
    history.replaceChildren(...steps.map((step) => {
      const line = element("li", describeChange(step));
      if (step.operation != null) line.dataset.operation = step.operation;
      line.title = step.at;
      return line;
    }));
    changes.querySelector("summary").textContent = steps.length ? "Label history (" + steps.length + (steps.length === 1 ? " change)" : " changes)")
      : "Label history: no changes yet";
    if (steps.length && steps.length <= 5) changes.open = true;
    return true;
  }

  // The labels line beside the project's name: every label, the models' included.
  async function showLabels() {
    const response = await fetch("/api/v1/images/" + sha256);
    if (!response.ok) return;
    const membership = ((await response.json()).projects || []).find((project) => String(project.project_id) === projectId);
    if (!membership) return;
    const names = membership.labels.map((label) => label.name);
    item.querySelector(".current-labels").textContent = names.join(", ");
  }

  load();
  if (!openButton || !form) return;
  const fields = form.querySelector(".label-fields");

  // Checkboxes of the label set (and of any label the photo has outside it), or one text field.
  function fill() {
    const current = state.labels.map((label) => label.name);
    if (labelSet) {
      const box = element("fieldset");
      box.append(element("legend", "Labels"));
      for (const name of labelSet.concat(current.filter((name) => !labelSet.includes(name)))) {
        const choice = element("label", undefined, "inline-choice");
        const input = element("input");
        input.type = "checkbox";
        input.name = "label";
        input.value = name;
        input.checked = current.includes(name);
        choice.append(input, " " + name);
        box.append(choice);
      }
      fields.replaceChildren(box);
    } else {
      const label = element("label", "Labels, separated by commas");
      const input = element("input");
      input.name = "labels";
      input.autocomplete = "off";
      input.value = current.join(", ");
      label.append(input);
      fields.replaceChildren(label);
    }
  }

  function chosenLabels() {
    if (labelSet) return Array.from(fields.querySelectorAll("input[name=label]:checked"), (input) => input.value);
    return fields.querySelector("input[name=labels]").value.split(",").map((name) => name.trim()).filter(Boolean);
  }

  function close() {
    form.hidden = true;
    openButton.hidden = false;
    openButton.setAttribute("aria-expanded", "false");
  }

  openButton.addEventListener("click", async () => {
    openButton.disabled = true;
    try {
      if (labelSet === undefined) {
        const response = await fetch("/api/v1/projects/" + projectId);
        if (!response.ok) { status.textContent = await problemText(response); return; }
        labelSet = (await response.json()).label_set || null;
      }
      // Filled from the labels as they are now; Save sends this version back.
      if (!(await load())) return;
      fill();
      status.textContent = "";
      form.hidden = false;
      openButton.hidden = true;
      openButton.setAttribute("aria-expanded", "true");
      const first = fields.querySelector("input");
      if (first) first.focus();
    } finally {
      openButton.disabled = false;
    }
  });
  form.querySelector(".cancel-labels").addEventListener("click", () => { close(); openButton.focus(); });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const save = form.querySelector("button[type=submit]");
    save.disabled = true;
    try {
      const response = await fetch(url, {
        method: "PUT",
        headers: csrfHeaders({ "Content-Type": "application/json", "If-Match": '"' + state.version + '"' }),
        body: JSON.stringify({ labels: chosenLabels() }),
      });
      if (response.status === 412) {
        // Someone else's change came first: show the labels as they are now, to decide again.
        const note = "Someone changed these labels meanwhile; reloaded";
        status.textContent = note + ".";
        toast(note, true);
        if (await load()) fill();
        showLabels();
        return;
      }
      if (!response.ok) {
        const detail = await problemText(response);
        status.textContent = detail;
        toast(detail, true);
        return;
      }
      const saved = await response.json();
      status.textContent = saved.operation ? "Saved (change " + saved.operation + ")." : "Nothing to change: the labels were already so.";
      close();
      openButton.focus();
      await load();
      showLabels();
    } catch (error) {
      status.textContent = "Not saved: " + error.message;
    } finally {
      save.disabled = false;
    }
  });
}

// The hash is a detail: one click copies it (the clipboard needs a secure context; elsewhere
// the hash is selected for the user to copy).
function setUpCopy() {
  const button = document.getElementById("copy-sha256");
  if (!button) return;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(button.dataset.copy);
      toast("Copied");
    } catch (_) {
      const range = document.createRange();
      range.selectNodeContents(document.getElementById("photo-sha256"));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      toast("Selected: press Ctrl+C (⌘C) to copy");
    }
  });
}

startPage();
setUpCopy();
setUpLabels();
followAnalyses();
followSimilar();
setUpRepair();
