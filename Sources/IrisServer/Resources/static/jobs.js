// The jobs page (jobs.mustache): its rows are redrawn from the API every two seconds, so
// states and progress are live.
import { callAPI, element, startPage } from "./common.js";

function followJobs() {
  const table = document.querySelector("table[data-live]");
  if (!table) return;
  const cell = (text, className) => element("td", text === undefined || text === null ? "" : String(text), className);
  const button = (label, spec, question) => {
    const node = element("button", label);
    node.addEventListener("click", () => { if (!question || confirm(question)) callAPI(spec, null, refresh); });
    return node;
  };
  async function refresh() {
    const response = await fetch(table.dataset.live);
    if (!response.ok) return;
    const page = await response.json();
    const body = table.querySelector("tbody");
    body.replaceChildren(...page.items.map((job) => {
      const row = element("tr");
      row.dataset.id = job.id;
      const bar = element("progress");
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

startPage();
followJobs();
