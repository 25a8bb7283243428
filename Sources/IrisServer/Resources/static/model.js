// The model page (model.mustache): the learner's classes, classify, trained classifiers and the
// test history, all drawn from the API.
import { csrfHeaders, element, problemText, startPage, toast } from "./common.js";

function setUpModelPage() {
  const page = document.getElementById("model-page");
  if (!page) return;
  const base = "/api/v1/projects/" + page.dataset.project;
  const canEdit = page.dataset.canEdit === "true";
  const percent = (value) => (value * 100).toFixed(1) + "%";
  const when = (text) => String(text).replace("T", " ").replace("Z", "").slice(0, 19);

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
      ? learner.classes.length + " classes taught by " + learner.count + " photos, over " + learner.model +
        (learner.rebuilding ? " (rebuilding: every example is being embedded again…)" : "") +
        (learner.consolidated_at && !learner.rebuilding ? "; consolidated " + when(learner.consolidated_at) : "")
      : "No classes yet. Add one from a zip of its images" + (canEdit ? " below." : " (editors can).");
    if (learner.rebuilding) setTimeout(loadClasses, 2000);
    for (const item of learner.classes) {
      const card = element("div", undefined, "class-card");
      card.dataset.name = item.name;
      const heading = element("h3", item.name);
      heading.appendChild(element("span", item.spread, "spread " + item.spread.replace(/ /g, "-")));
      card.appendChild(heading);
      card.appendChild(element("p", item.summary, "summary"));
      if (item.confused_with.length) {
        const names = item.confused_with.join(", ");
        card.appendChild(element("p", item.confusion_from === "test"
          ? "Often confused with " + names + " in the latest test."
          : "Close to " + names + ": their photos may be taken for each other.", "confused"));
      }
      // The raw figures behind the words, for those who want them.
      const figures = element("details");
      figures.appendChild(element("summary", "Statistics"));
      if (item.spread_text) figures.appendChild(element("p", item.spread_text));
      const pooled = learner.pooled_noise_mean !== undefined
        ? " (all classes: " + learner.pooled_noise_mean.toFixed(3) + " ± " + (learner.pooled_noise_std || 0).toFixed(3) + ")" : "";
      figures.appendChild(element("p", "A new photo of this class lies " + item.noise_mean.toFixed(3) + " ± " + item.noise_std.toFixed(3) +
        " from it" + pooled + "; it answers within " + item.threshold.toFixed(3) + " (the threshold, the same for every class).", "muted"));
      card.appendChild(figures);
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
      // One sentence with one calibrated percentage: "lawn.jpg: grass, 91% sure", or
      // "launch.jpg: unknown — nearest class brick, but further than its photos usually are".
      const answer = item.unknown ? "unknown" : item.label;
      const sentence = item.sentence || answer;
      status.remove();
      const said = element("span", undefined, "sentence");
      said.appendChild(element("strong", answer, "answer"));
      said.appendChild(document.createTextNode(sentence.startsWith(answer) ? sentence.slice(answer.length) : " — " + sentence));
      row.appendChild(said);
      row.classList.add(item.unknown ? "unknown" : "known");
      // The distances behind it, without percentages that would disagree with the one above.
      const behind = element("details");
      behind.appendChild(element("summary", "Distances"));
      behind.appendChild(element("p", item.ranked.slice(0, 3).map((r) => r.label + " " + r.distance.toFixed(3)).join(" · ") +
        (item.ranked.length ? " (answers within " + item.ranked[0].threshold.toFixed(3) + ")" : ""), "muted"));
      row.appendChild(behind);
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
      // Beside the validation accuracy: too few photos per class to trust it.
      if (item.caution) row.children[3].appendChild(element("span", item.caution, "caution"));
      // Corrections since it was trained: it has not seen them (retrain to teach it).
      const changed = item.labels_changed_since || 0;
      row.appendChild(element("td", changed ? changed + (changed === 1 ? " photo's label changed since" : " photos' labels changed since") : "up to date",
        changed ? "stale" : "muted"));
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
    labelCells(document.getElementById("classifiers"));
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

  // Each cell names its column, so on a phone a row reads as a card ("Accuracy: 83.3%").
  function labelCells(table) {
    const names = Array.from(table.querySelectorAll("thead th")).map((th) => th.textContent);
    for (const row of table.querySelectorAll("tbody tr")) {
      Array.from(row.children).forEach((cell, index) => { if (names[index]) cell.dataset.label = names[index]; });
    }
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

  // Accuracy of every run, oldest left, one line per target, each point with its 95% interval
  // (a band joining the intervals, a whisker on each point). The table below has the same figures.
  function drawHistory(runs) {
    const box = document.getElementById("history-chart");
    box.replaceChildren();
    const tested = runs.filter((run) => run.report && run.report.count);
    if (!tested.length) { box.appendChild(element("p", "No tests yet.", "muted")); return; }
    const width = 640, height = 220, pad = 36;
    const ordered = tested.slice().reverse();
    const latest = ordered[ordered.length - 1];
    const summary = "Accuracy of " + ordered.length + " test run" + (ordered.length === 1 ? "" : "s") + " over time, each with its 95% interval; the latest, run " +
      latest.id + " of the " + latest.target + ", " + percent(latest.report.accuracy) + intervalText(latest) + ". The table below lists every run.";
    const chart = svg("svg", { viewBox: "0 0 " + width + " " + height, class: "chart history", role: "img", "aria-label": summary });
    const title = svg("title");
    title.textContent = summary;
    chart.appendChild(title);
    const x = (index) => pad + (ordered.length === 1 ? (width - 2 * pad) / 2 : index * (width - 2 * pad) / (ordered.length - 1));
    const y = (value) => height - pad - value * (height - 2 * pad);
    percentGrid(chart, width, pad, y);
    for (const [index, anchor] of [[0, "start"], [ordered.length - 1, "end"]]) {
      const label = svg("text", { x: x(index), y: height - 10, class: "axis", "text-anchor": ordered.length === 1 ? "middle" : anchor });
      label.textContent = when(ordered[index].created_at).slice(0, 16);
      chart.appendChild(label);
      if (ordered.length === 1) break;
    }
    for (const target of ["learner", "classifier"]) {
      const points = ordered.map((run, index) => [run, index]).filter(([run]) => run.target === target);
      if (!points.length) continue;
      const bounds = ([run]) => run.accuracy_interval || { low: run.report.accuracy, high: run.report.accuracy };
      if (points.length > 1) {
        const upper = points.map((point) => x(point[1]) + "," + y(bounds(point).high));
        const lower = points.slice().reverse().map((point) => x(point[1]) + "," + y(bounds(point).low));
        chart.appendChild(svg("polygon", { points: upper.concat(lower).join(" "), class: "band " + target }));
        chart.appendChild(svg("polyline", { points: points.map(([run, index]) => x(index) + "," + y(run.report.accuracy)).join(" "), class: "series " + target }));
      }
      for (const point of points) {
        const [run, index] = point;
        chart.appendChild(svg("line", { x1: x(index), x2: x(index), y1: y(bounds(point).low), y2: y(bounds(point).high), class: "whisker " + target }));
        const dot = svg("circle", { cx: x(index), cy: y(run.report.accuracy), r: 4, class: "series " + target });
        const tip = svg("title");
        tip.textContent = target + " run " + run.id + ": " + percent(run.report.accuracy) + intervalText(run);
        dot.appendChild(tip);
        chart.appendChild(dot);
      }
    }
    for (const [index, target] of [[0, "learner"], [1, "classifier"]]) {
      if (!ordered.some((run) => run.target === target)) continue;
      const legend = svg("text", { x: width - pad - 90, y: pad / 2 + 14 * index, class: "axis legend " + target });
      legend.textContent = "● " + target;
      chart.appendChild(legend);
    }
    box.appendChild(chart);
  }

  const intervalText = (run) => run.accuracy_interval
    ? " (95% interval " + (run.accuracy_interval.low * 100).toFixed(0) + "–" + (run.accuracy_interval.high * 100).toFixed(0) + "%)" : "";

  // Rows are true classes, columns answers (the last is unknown); darker is more.
  function drawConfusion(run) {
    const box = document.getElementById("evaluation-detail");
    box.replaceChildren();
    const report = run.report;
    box.appendChild(element("h3", "Run " + run.id + ": " + run.target + (run.version ? " v" + run.version : "") + " on the " + run.split + " split"));
    box.appendChild(element("p", percent(report.accuracy) + " right of " + report.count + " photos" + intervalText(run) + ".", "summary"));
    if (run.caution) box.appendChild(element("p", run.caution, "caution"));
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
    table.className = "model-table";
    table.appendChild(element("thead")).appendChild(element("tr")).append(...["Class", "Test photos", "Precision", "Recall", "F1"].map((h) => element("th", h)));
    const rows = table.appendChild(element("tbody"));
    for (const item of report.classes) {
      rows.appendChild(element("tr")).append(...[item.label, String(item.support), percent(item.precision), percent(item.recall), percent(item.f1)].map((t) => element("td", t)));
    }
    labelCells(table);
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
      for (const text of [String(run.id), run.target + (run.version ? " v" + run.version : ""), String(report.count || 0), percent(report.accuracy || 0)])
        row.appendChild(element("td", text));
      // Beside the accuracy: its interval, and a warning when a class had too few test photos.
      const interval = run.accuracy_interval;
      row.appendChild(element("td", interval ? (interval.low * 100).toFixed(0) + "–" + (interval.high * 100).toFixed(0) + "%" : "", "interval"));
      if (run.caution) row.children[3].appendChild(element("span", "not reliable: too few photos", "caution"));
      for (const text of [percent(report.top_k_accuracy || 0), percent(report.unknown_rate || 0), when(run.created_at)]) row.appendChild(element("td", text));
      // A row opens its details: by click, or Enter on the focused row.
      row.tabIndex = 0;
      row.addEventListener("click", () => drawConfusion(run));
      row.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); drawConfusion(run); } });
      body.appendChild(row);
    }
    labelCells(document.getElementById("evaluations"));
    if (runs.length) drawConfusion(runs[0]);
  }

  loadClasses(); loadClassifiers(); loadEvaluations();
}

startPage();
setUpModelPage();
