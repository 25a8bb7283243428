// The jobs page (jobs.mustache). Without script it is a GET form and links. With it, the
// filters and the pager change the list in place (the address follows, so Back and a reload
// keep them), and the rows are redrawn every three seconds from the page itself, so states,
// progress and times stay live and are drawn by the same template as the first time.
import { callAPI, startPage } from "./common.js";

const REFRESH_MS = 3000;

function followJobs() {
  const list = document.getElementById("job-list");
  const form = document.getElementById("job-filters");
  if (!list || !form) return;
  let loading = null;

  // Loads `address` (a /jobs URL) and swaps in its rows, pager and queue table.
  async function load(address) {
    if (loading) loading.abort();
    loading = new AbortController();
    let response;
    try {
      response = await fetch(address, { headers: { Accept: "text/html" }, signal: loading.signal });
    } catch (_) {
      return;  // aborted by a newer load, or offline: the next tick tries again
    }
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("job-list");
    if (!fresh) return;
    list.replaceChildren(...fresh.childNodes);
    list.dataset.live = fresh.dataset.live;
    const queues = document.getElementById("queues");
    const freshQueues = page.getElementById("queues");
    if (queues && freshQueues) queues.replaceWith(freshQueues);
  }

  function go(address) {
    history.pushState(null, "", address);
    list.dataset.live = address;
    load(address);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (value !== "") query.append(name, value);
    const text = query.toString();
    go("/jobs" + (text ? "?" + text : ""));
    const clear = document.getElementById("job-clear");
    if (clear) clear.hidden = !text;
  });

  list.addEventListener("click", (event) => {
    const link = event.target.closest("nav.activity-pager a");
    if (link) {
      event.preventDefault();
      go(link.getAttribute("href"));
      list.querySelector("table, p")?.scrollIntoView({ block: "nearest" });
      return;
    }
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;
    callAPI(button.dataset.action, null, () => load(list.dataset.live));
  });

  window.addEventListener("popstate", () => {
    // Back and Forward: the filters the address holds, in the form and the list.
    const query = new URLSearchParams(location.search);
    for (const field of form.elements) if (field.name) field.value = query.get(field.name) || "";
    list.dataset.live = location.pathname + location.search;
    load(list.dataset.live);
  });

  setInterval(() => {
    // Not while the tab is hidden, nor under the keyboard's focus (a redraw would lose it).
    if (document.hidden || list.contains(document.activeElement)) return;
    load(list.dataset.live);
  }, REFRESH_MS);
}

startPage();
followJobs();
