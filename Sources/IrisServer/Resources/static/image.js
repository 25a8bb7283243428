// The image page (image.mustache): the photo's labels in each project (their history, and
// correcting them), what each model said, the similar photos, and Repair mode.
import { busy, csrfHeaders, element, problemText, startPage, toast } from "./common.js";
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

// The photos nearest this one by embedding, among those the viewer may see, named and scored
// as search scores; those below the model's "similar" cut-off are hidden behind a button (and the
// page says when nothing is similar). Asked again while the photo has no embedding yet.
function followSimilar() {
  const section = document.querySelector("[data-similar]");
  if (!section) return;
  const empty = document.getElementById("similar-empty");
  const photos = document.getElementById("similar-photos");
  const more = document.getElementById("similar-more");
  let attempts = 0;
  function tile(item) {
    const tile = element("li", undefined, "tile");
    tile.dataset.sha256 = item.sha256;
    const link = element("a");
    link.href = "/images/" + item.sha256;
    const image = element("img");
    image.src = item.urls.thumbnail_256;
    image.alt = item.original_name || "a similar photo";
    image.loading = "lazy";
    link.append(image);
    const meta = element("div", undefined, "meta");
    meta.append(element("span", Math.round(item.similarity * 100) + "%", "score"), " ", element("span", item.original_name || "", "name"));
    tile.append(link, meta);
    return tile;
  }
  async function refresh() {
    const response = await fetch(section.dataset.similar);
    if (!response.ok) { empty.textContent = await problemText(response); return; }
    const body = await response.json();
    const cut = body.similar_above ?? -1;
    const similar = body.items.filter((item) => item.similarity >= cut);
    const others = body.items.filter((item) => item.similarity < cut);
    photos.replaceChildren(...similar.map(tile));
    empty.hidden = similar.length > 0;
    if (!body.model) empty.textContent = "Similar photos appear once the photo is analysed.";
    else if (body.items.length === 0) empty.textContent = "No other photo you can see is like this one yet.";
    else empty.textContent = "Nothing you can see is much like this photo.";
    more.hidden = others.length === 0;
    more.textContent = "Show " + others.length + " less similar " + (others.length === 1 ? "photo" : "photos");
    more.onclick = () => { photos.append(...others.map(tile)); more.hidden = true; };
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

// The photo's labels in each project holding it, as chips: who uploaded it, the history of its
// labels (who, when), and for editors a × on each chip, a field to add one, the models'
// suggestions to accept in one click, and Remove from the project. Every change sends the version
// the chips were drawn from (If-Match), so a change someone made meanwhile is never overwritten:
// the chips are redrawn from the labels as they are now, and say so.
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
  const chips = item.querySelector(".chips");
  const canEdit = item.querySelector(".add-label") !== null;
  let state = null;  // the labels and version last read (GET) or written (PUT)

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
    const upload = steps.find((step) => step.operation == null);
    item.querySelector(".uploaded-by").textContent = upload ? describeChange(upload) + "." : "";
    return true;
  }

  const names = () => state.labels.filter((label) => label.source === "human").map((label) => label.name);

  // The chips as the labels are now; a suggestion that became a label leaves the suggestions.
  function draw() {
    const current = names();
    chips.replaceChildren(...current.map((name) => {
      const chip = element("li", undefined, "chip");
      chip.dataset.label = name;
      chip.append(element("span", name));
      if (canEdit) {
        const remove = element("button", "×", "chip-remove");
        remove.type = "button";
        remove.title = "Remove";
        remove.setAttribute("aria-label", "Remove the label " + name);
        chip.append(remove);
      }
      return chip;
    }));
    item.querySelector(".no-labels").hidden = current.length > 0;
    const suggestions = item.querySelector(".suggestions");
    for (const suggestion of suggestions.querySelectorAll(".suggestion")) suggestion.hidden = current.includes(suggestion.dataset.label);
    suggestions.hidden = !suggestions.querySelector(".suggestion:not([hidden])");
  }

  // Changes made one after another: each starts from the labels the one before left, so two
  // quick clicks are two changes, not a change and a "someone changed these meanwhile".
  let saving = Promise.resolve(true);
  function change(wanted, done) {
    saving = saving.then(() => save(wanted(names()), done), () => save(wanted(names()), done));
    return saving;
  }

  // Replaces the labels with `wanted`; `done` says what happened in words.
  async function save(wanted, done) {
    const response = await fetch(url, {
      method: "PUT",
      headers: csrfHeaders({ "Content-Type": "application/json", "If-Match": '"' + state.version + '"' }),
      body: JSON.stringify({ labels: wanted }),
    });
    if (response.status === 412) {
      // Someone else's change came first: show the labels as they are now, to decide again.
      const note = "Someone changed these labels meanwhile; here they are now";
      status.textContent = note + ".";
      toast(note, true);
      if (await load()) draw();
      return false;
    }
    if (!response.ok) {
      const detail = await problemText(response);
      status.textContent = detail;
      toast(detail, true);
      return false;
    }
    const saved = await response.json();
    status.textContent = saved.operation ? done + " (change " + saved.operation + ")." : "Nothing to change: the labels were already so.";
    await load();
    draw();
    return true;
  }

  load();
  if (!canEdit) return;
  chips.addEventListener("click", async (event) => {
    const button = event.target.closest(".chip-remove");
    if (!button || !state) return;
    const name = button.parentElement.dataset.label;
    button.disabled = true;
    if (await change((current) => current.filter((label) => label !== name), "Removed " + name)) item.querySelector(".add-label input").focus();
    else button.disabled = false;
  });
  item.querySelector(".suggestions").addEventListener("click", async (event) => {
    const button = event.target.closest("button.suggestion");
    if (!button || !state) return;
    button.disabled = true;
    const name = button.dataset.label;
    await change((current) => (current.includes(name) ? current : current.concat([name])), "Added " + name);
    button.disabled = false;
  });
  const form = item.querySelector(".add-label");
  const input = form.querySelector("input");
  // The project's label set, offered as the field's choices (the server refuses others).
  fetch("/api/v1/projects/" + projectId).then((response) => response.ok ? response.json() : null).then((project) => {
    if (!project || !project.label_set) return;
    const choices = element("datalist");
    choices.id = "label-choices-" + projectId;
    for (const name of project.label_set) { const option = element("option"); option.value = name; choices.append(option); }
    form.append(choices);
    input.setAttribute("list", choices.id);
    input.placeholder = project.label_set.slice(0, 3).join(", ") + (project.label_set.length > 3 ? ", …" : "");
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (!name || !state) return;
    busy(form, (async () => {
      if (names().includes(name)) { status.textContent = name + " is already a label."; return; }
      if (await change((current) => current.concat([name]), "Added " + name)) input.value = "";
    })());
  });
  const removePhoto = item.querySelector(".remove-photo");
  removePhoto.addEventListener("click", async () => {
    if (!confirm("Remove this photo from " + removePhoto.dataset.name + "? Its labels there go with it.")) return;
    removePhoto.disabled = true;
    const response = await fetch("/api/v1/projects/" + projectId + "/images/" + sha256, { method: "DELETE", headers: csrfHeaders() });
    if (!response.ok) { toast(await problemText(response), true); removePhoto.disabled = false; return; }
    toast("Removed from " + removePhoto.dataset.name);
    const others = item.parentElement.querySelectorAll("li[data-project]").length - 1;
    // Nothing of the photo is left to show here: back to the project it left.
    if (others === 0) { location.assign("/projects/" + projectId); return; }
    item.remove();
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
