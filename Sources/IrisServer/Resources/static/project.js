// The project page (project.mustache): uploading photos through the offline queue, the
// owner's contributor links, and (editors) choosing photos in the gallery to correct their labels.
import { callAPI, csrfHeaders, element, offlineQueue, problemText, refreshLists, sendJSON, startPage, toast } from "./common.js";

// Photos are chosen (or dropped), a label picked, and nothing is sent until Upload is pressed,
// so the label chosen after the photos is the one they get.
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

// Owners make contributor links here.
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
    refreshLists();
  });
}

// Editors correct labels from the gallery. "Select photos" turns a click on a tile into choosing
// it (a shift-click chooses the run from the tile clicked last); "Select all" chooses every
// photo the gallery's filter matches, on every page, and the change then names the filter
// rather than the photos. The bar adds or removes one label on what is chosen, in one change
// the notice after it can undo. The tiles on the page show the change at once; an undo reloads.
function setUpSelection() {
  const bar = document.getElementById("bulk-bar");
  const gallery = document.getElementById("gallery");
  const toggle = document.getElementById("select-mode");
  if (!bar || !gallery || !toggle) return;
  const tiles = Array.from(gallery.querySelectorAll(".tile"));
  const count = document.getElementById("selected-count");
  const allButton = document.getElementById("select-all");
  const picker = document.getElementById("bulk-label");
  const addButton = document.getElementById("bulk-add");
  const removeButton = document.getElementById("bulk-remove");
  const projectId = bar.dataset.project;
  const matching = Number(bar.dataset.matching);
  const filtered = bar.dataset.label !== "" || bar.dataset.modelLabel !== "";
  if (!filtered) allButton.textContent = "Select all " + matching + (matching === 1 ? " photo" : " photos") + " in this project";
  let selecting = false;
  let allMatching = false;  // "Select all": the change names the filter, not the photos
  let last = null;  // the tile clicked last, where a shift-click's run starts
  let busy = false;

  // What an undo said before the page reloaded.
  const kept = sessionStorage.getItem("iris-labels-note");
  if (kept) { toast(kept); sessionStorage.removeItem("iris-labels-note"); }

  for (const tile of tiles) {
    const box = element("input", undefined, "pick");
    box.type = "checkbox";
    box.setAttribute("aria-label", "Select " + tile.querySelector(".name").textContent);
    tile.prepend(box);
  }

  const chosen = () => tiles.filter((tile) => tile.classList.contains("selected"));
  function mark(tile, on) {
    tile.classList.toggle("selected", on);
    tile.querySelector(".pick").checked = on;
  }

  function update() {
    const n = chosen().length;
    count.textContent = allMatching ? "All " + matching + " matching selected" : n + " selected";
    allButton.setAttribute("aria-pressed", String(allMatching));
    addButton.disabled = removeButton.disabled = busy || (n === 0 && !allMatching);
  }

  // The bar is fixed to the bottom of the screen: the notices, a tile reached with the keyboard
  // and the end of the page keep clear of it (app.css, by its height).
  const barHeight = () => document.documentElement.style.setProperty("--bulk-bar-height", (bar.hidden ? 0 : bar.offsetHeight) + "px");
  if (window.ResizeObserver) new ResizeObserver(barHeight).observe(bar);

  function setSelecting(on) {
    selecting = on;
    toggle.setAttribute("aria-pressed", String(on));
    toggle.textContent = on ? "Done selecting" : "Select photos";
    gallery.classList.toggle("selecting", on);
    document.documentElement.classList.toggle("bulk-open", on);
    bar.hidden = !on;
    if (!on) { for (const tile of tiles) mark(tile, false); allMatching = false; last = null; }
    barHeight();
    update();
  }
  toggle.addEventListener("click", () => setSelecting(!selecting));

  gallery.addEventListener("click", (event) => {
    if (!selecting) return;
    const tile = event.target.closest(".tile");
    if (!tile) return;
    const box = tile.querySelector(".pick");
    // A click on the box has already ticked it; anywhere else on the tile (the picture's link
    // too) ticks it instead of opening the photo.
    let wanted = box.checked;
    if (event.target !== box) { event.preventDefault(); wanted = !box.checked; }
    const index = tiles.indexOf(tile);
    const from = event.shiftKey && last !== null ? Math.min(last, index) : index;
    const to = event.shiftKey && last !== null ? Math.max(last, index) : index;
    for (let i = from; i <= to; i++) mark(tiles[i], wanted);
    last = index;
    allMatching = false;
    update();
  });

  allButton.addEventListener("click", () => {
    allMatching = !allMatching;
    for (const tile of tiles) mark(tile, allMatching);
    last = null;
    update();
  });
  document.getElementById("select-none").addEventListener("click", () => {
    for (const tile of tiles) mark(tile, false);
    allMatching = false;
    last = null;
    update();
  });

  // The tiles on this page show a change without reloading, so the selection stays for the next.
  function showOnTiles(changed, kind, label) {
    for (const tile of changed) {
      const labels = tile.querySelector(".labels");
      const chip = Array.from(labels.querySelectorAll('.label[title="human"]')).find((span) => span.textContent === label);
      if (kind === "remove" && chip) chip.remove();
      if (kind === "add" && !chip) {
        const added = element("span", label, "label");
        added.title = "human";
        labels.insertBefore(added, labels.querySelector('.label:not([title="human"])'));
      }
    }
  }

  async function apply(kind) {
    const label = picker.value.trim();
    if (!label) { toast("Choose a label first", true); picker.focus(); return; }
    const changed = chosen();
    const body = {};
    if (allMatching) {
      body.filter = {};
      if (bar.dataset.label) body.filter.label = bar.dataset.label;
      if (bar.dataset.modelLabel) body.filter.model_label = bar.dataset.modelLabel;
    } else {
      body.images = changed.map((tile) => tile.dataset.sha256);
    }
    body[kind] = [label];
    busy = true;
    update();
    try {
      await callAPI("POST /api/v1/projects/" + projectId + "/labels", body, (result) => {
        if (!result.changed) {
          toast(kind === "add" ? "Nothing changed: every selected photo has " + label + " already."
            : "Nothing changed: no selected photo has " + label + ".");
          return;
        }
        showOnTiles(changed, kind, label);
        const photos = result.changed + (result.changed === 1 ? " photo" : " photos");
        undoNotice("Changed " + photos + " (" + label + (kind === "add" ? " added)." : " removed)."), projectId, result.operation);
      });
    } catch (error) {
      toast("The change was not sent: " + error.message, true);
    } finally {
      busy = false;
      update();
    }
  }
  addButton.addEventListener("click", () => apply("add"));
  removeButton.addEventListener("click", () => apply("remove"));
  update();
}

// A notice with an Undo button: it stays 30 s (longer while the keyboard is in it), or until closed.
function undoNotice(message, projectId, operation) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = element("div", undefined, "toast actionable undo-notice");
  const undo = element("button", "Undo", "undo");
  undo.type = "button";
  const close = element("button", "×", "dismiss");
  close.type = "button";
  close.setAttribute("aria-label", "Dismiss");
  item.append(element("span", message), undo, close);
  box.appendChild(item);
  const expire = () => { if (item.contains(document.activeElement)) setTimeout(expire, 5000); else item.remove(); };
  setTimeout(expire, 30000);
  close.addEventListener("click", () => item.remove());
  undo.addEventListener("click", async () => {
    undo.disabled = true;
    try {
      await callAPI("POST /api/v1/projects/" + projectId + "/labels/undo", { operation: operation }, (result) => {
        item.remove();
        const note = "Undone: " + result.changed + (result.changed === 1 ? " photo is" : " photos are") + " as before.";
        toast(note);
        sessionStorage.setItem("iris-labels-note", note);
        setTimeout(() => location.reload(), 600);
      });
    } catch (error) {
      toast("The undo was not sent: " + error.message, true);
    } finally {
      undo.disabled = false;
    }
  });
}

// Owners: the label set. Rename relabels the photos (one undoable change); remove asks what
// to do with the photos that carry the label; add extends the set.
function setUpLabelSet() {
  const table = document.getElementById("label-rows");
  if (!table) return;
  const api = "/api/v1/projects/" + table.dataset.project;
  const labelSet = (table.dataset.labelSet || "").split("\n").map((name) => name.trim()).filter(Boolean);
  const done = (note) => { sessionStorage.setItem("iris-labels-note", note); location.reload(); };
  table.addEventListener("click", async (event) => {
    const rename = event.target.closest("[data-rename-label]");
    const remove = event.target.closest("[data-remove-label]");
    if (!rename && !remove) return;
    const button = rename || remove;
    button.disabled = true;
    try {
      if (rename) {
        const from = rename.dataset.renameLabel;
        const to = (prompt("Rename the label " + from + " to:", from) || "").trim();
        if (!to || to === from) return;
        const result = await sendJSON("POST", api + "/labels/rename", { from, to });
        done(from + " is now " + to + (result.changed ? " on " + result.changed + (result.changed === 1 ? " photo." : " photos.") : "."));
      } else {
        const name = remove.dataset.removeLabel;
        const photos = Number(remove.closest("tr").dataset.photos || 0);
        if (photos > 0) {
          if (!confirm(photos + " photo" + (photos === 1 ? " has" : "s have") + " the label " + name +
            ". Remove it from " + (photos === 1 ? "that photo" : "them") + " as well? (The change can be undone from the gallery.)")) return;
          await sendJSON("POST", api + "/labels", { filter: { label: name }, remove: [name] });
        } else if (!confirm("Remove the label " + name + "?")) {
          return;
        }
        if (labelSet.includes(name)) await sendJSON("PATCH", api, { label_set: labelSet.filter((other) => other !== name) });
        done(name + " is removed" + (photos ? " from the label set and from " + photos + (photos === 1 ? " photo." : " photos.") : "."));
      }
    } catch (error) {
      toast(error.message, true);
    } finally {
      button.disabled = false;
    }
  });
  document.getElementById("add-label").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = event.target.elements.label.value.trim();
    if (!name) return;
    try {
      await sendJSON("PATCH", api, { label_set: labelSet.concat([name]) });
      done(name + " is a label of this project now.");
    } catch (error) {
      toast(error.message, true);
    }
  });
}

// Owners: delete the project once its name is typed.
function setUpDelete() {
  const form = document.getElementById("delete-project");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.elements.confirm.value.trim() !== form.dataset.name) {
      toast("Type the project's name exactly to delete it", true);
      return;
    }
    const button = form.querySelector("button");
    button.disabled = true;
    button.textContent = "Deleting…";
    try {
      await sendJSON("DELETE", "/api/v1/projects/" + form.dataset.project);
      location.href = "/";
    } catch (error) {
      toast(error.message, true);
      button.disabled = false;
      button.textContent = "Delete project";
    }
  });
}

// Editors: an export runs as a job; the page follows it and offers the zip when it is ready.
function setUpExport() {
  const form = document.getElementById("export-form");
  if (!form) return;
  const status = document.getElementById("export-status");
  const api = "/api/v1/projects/" + form.dataset.project;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    status.textContent = "Preparing the export…";
    try {
      const job = await sendJSON("POST", api + "/exports", { format: form.elements.format.value, split: form.elements.split.checked });
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const state = await sendJSON("GET", "/api/v1/jobs/" + job.id);
        if (state.state === "succeeded") break;
        if (["failed", "dead", "cancelled"].includes(state.state)) throw new Error("The export " + state.state + (state.error ? ": " + state.error : ""));
        status.textContent = "Preparing the export… " + (state.progress != null ? Math.round(state.progress * 100) + "%" : "");
      }
      const link = element("a", "Download the " + form.elements.format.value + " export");
      link.href = api + "/exports/" + job.id;
      link.id = "export-download";
      status.replaceChildren(link);
    } catch (error) {
      status.textContent = "";
      toast(error.message, true);
    } finally {
      button.disabled = false;
    }
  });
}

// Addresses to copy (the Label Studio backend URL) are written out with this server's origin.
for (const code of document.querySelectorAll("[data-absolute-url]")) {
  code.textContent = location.origin + code.dataset.absoluteUrl;
}

startPage();
setUpUpload();
setUpCreateLink();
setUpSelection();
setUpLabelSet();
setUpDelete();
setUpExport();
