"""How soon the project page of a project of 1,000 photos can be used, in a real browser, as a
ratio against the same page of a project of 10 photos in the same run.

    python project_page.py IRIS WORK

Makes 1,010 distinct small photos (256×256 JPEGs of about 20 KB: tiles of one large image of
smooth colour noise with a little grain, cut by vips, so no two are alike), starts `iris serve`
on a fresh data folder in WORK (analysing new photos with mobilenet-v2 only, so the tiles carry
a model's guess as a real project's do), uploads 1,000 of them with `iris upload` into one
project and 10 into another (each labelled by its folder, one of five labels), and waits for
the jobs to finish. Then headless Chromium, signed in as an administrator (an editor of both,
so the select tools are there), loads `/projects/ID` of each project 5 times at 1280×900 and
5 times at 390×844 (a phone: deviceScaleFactor 2, mobile), the cache off, the two projects
alternating, after one load of each not counted. For each load, from navigation start:

- the page's HTML received, and DOMContentLoaded;
- interactive: the first gallery tile's image has loaded (naturalWidth > 0) and project.js has
  run (it gives every tile a selection box, `#gallery .tile .pick`), then the next frame;
- whether the first photo is within the viewport without scrolling (and where its top is);
- the HTML's size, how many photos the first page shows, and how many thumbnails were fetched
  by the time the page was interactive.

Reported: the medians, and the ratio of the 1,000-photo project's to the 10-photo project's.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chromium import headless_chromium
from review_crowd import Server
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

LOADS = 5
PHOTOS, BASELINE_PHOTOS = 1000, 10
LABELS = ["amber", "cobalt", "fern", "rose", "slate"]
VIEWPORTS = {
    "1280×900": {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    "390×844 (phone)": {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True},
}
USER, PASSWORD = "bench", "bench-password"  # the administrator review_crowd.Server creates

# Runs before the page's own scripts. Images' load events reach a capturing listener on the
# document; project.js runs before DOMContentLoaded (a module script), and whatever it adds
# later is seen by the observer started then.
PROBE = """
window.__pageBench = {};
const check = () => {
  const bench = window.__pageBench;
  if (bench.ready) return;
  const image = document.querySelector("#gallery .tile img");
  if (!bench.photo && image && image.complete && image.naturalWidth > 0) bench.photo = performance.now();
  if (!bench.scripted && document.querySelector("#gallery .tile .pick")) bench.scripted = performance.now();
  if (bench.photo && bench.scripted) {
    bench.ready = performance.now();
    bench.thumbnails = performance.getEntriesByType("resource").filter((e) => e.name.includes("/thumbnail")).length;
    requestAnimationFrame(() => { bench.painted = performance.now(); });
  }
};
document.addEventListener("load", check, true);
document.addEventListener("DOMContentLoaded", () => {
  window.__pageBench.contentLoaded = performance.now();
  check();
  new MutationObserver(check).observe(document.body, { childList: true, subtree: true });
});
"""

RESULT = """
const bench = window.__pageBench;
const navigation = performance.getEntriesByType("navigation")[0];
const image = document.querySelector("#gallery .tile img");
const box = image ? image.getBoundingClientRect() : null;
return {
  html: navigation.responseEnd, contentLoaded: navigation.domContentLoadedEventEnd,
  interactive: bench.painted || null, photo: bench.photo || null, scripted: bench.scripted || null,
  bytes: navigation.decodedBodySize, tiles: document.querySelectorAll("#gallery .tile").length,
  thumbnails: bench.thumbnails, more: Boolean(document.getElementById("next-page")),
  guesses: document.querySelectorAll("#gallery .tile .label.model").length,
  top: box ? box.top : null, bottom: box ? box.bottom : null, height: innerHeight, scrollY: scrollY,
  overflow: document.documentElement.scrollWidth > innerWidth + 1,
};
"""


def make_photos(folder, count):
    """`count` distinct 256×256 JPEGs, in LABELS sub-folders (round robin), from one vips run."""
    side = 256 * 32  # 1,024 tiles
    if count > 1024:
        sys.exit("project_page: at most 1,024 photos")
    scratch = Path(tempfile.mkdtemp(dir=folder.parent))
    try:
        def vips(*args):
            subprocess.run(["vips", *map(str, args)], check=True, cwd=scratch)
        for band, (cell, seed) in enumerate([(200, 1), (131, 2), (77, 3)]):
            vips("perlin", f"{band}.v", side, side, "--cell-size", cell, "--uchar", "--seed", seed)
        vips("bandjoin", "0.v 1.v 2.v", "smooth.v")
        vips("gaussnoise", "grain.v", side, side, "--sigma", 10, "--mean", 0)
        vips("add", "smooth.v", "grain.v", "sum.v")
        vips("cast", "sum.v", "cast.v", "uchar")
        vips("copy", "cast.v", "srgb.v", "--interpretation", "srgb")
        vips("dzsave", "srgb.v", "tiles", "--layout", "google", "--depth", "one", "--tile-size", 256,
             "--overlap", 0, "--suffix", ".jpg[Q=85]")
        tiles = sorted((scratch / "tiles").rglob("*.jpg"))
        for index, tile in enumerate(tiles[:count]):
            target = folder / LABELS[index % len(LABELS)] / f"photo-{index:04d}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(tile, target)
    finally:
        shutil.rmtree(scratch)


def fill(server, iris, work, name, folder, env):
    project = server.call("POST", "/api/v1/projects", {"name": name, "label_set": LABELS})["id"]
    sent = subprocess.run([iris, "upload", str(folder), "--server", server.base, "--project", str(project),
                           "--token", server.token, "--label-from-folders", "--concurrency", "8",
                           "--state", str(work / f"upload-state-{project}")], env=env, capture_output=True, text=True)
    if sent.returncode != 0:
        sys.exit(f"project_page: uploading {folder} failed\n{sent.stdout[-2000:]}{sent.stderr[-2000:]}")
    return project


def measure(server, projects):
    """`projects`: {name: id}. Answers {viewport: {name: [load results]}}."""
    driver = headless_chromium()
    results = {}
    try:
        driver.get(server.base + "/login")
        driver.find_element(By.NAME, "username").send_keys(USER)
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "#login button").click()
        WebDriverWait(driver, 15).until(expected_conditions.presence_of_element_located((By.ID, "signed-in-as")))
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
        for viewport, metrics in VIEWPORTS.items():
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
            results[viewport] = {name: [] for name in projects}
            for load in range(LOADS + 1):
                for name, project in projects.items():
                    driver.get(server.base + f"/projects/{project}")
                    try:
                        WebDriverWait(driver, 60, poll_frequency=0.05).until(
                            lambda d: d.execute_script("return window.__pageBench && window.__pageBench.painted"))
                    except TimeoutException:
                        pass  # reported as never interactive
                    if load > 0:  # the first of each is not counted
                        results[viewport][name].append(driver.execute_script(RESULT))
            driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    finally:
        driver.quit()
    return results


def median(loads, key):
    values = [load[key] for load in loads if load[key] is not None]
    return statistics.median(values) if len(values) == len(loads) else None


def report(results, names):
    baseline, large = names
    summary = {}
    for viewport, by_project in results.items():
        print(f"  {viewport}:")
        for name in names:
            loads = by_project[name]
            last = loads[-1]
            within = [load["top"] is not None and load["top"] < load["height"] and load["scrollY"] == 0 for load in loads]
            fully = [load["bottom"] is not None and load["bottom"] <= load["height"] for load in loads]
            times = {key: median(loads, key) for key in ("html", "contentLoaded", "photo", "scripted", "interactive")}
            shown = {key: "never" if value is None else f"{value / 1000:.2f} s" for key, value in times.items()}
            print(f"    {name}: HTML {last['bytes'] / 1000:.0f} kB, {last['tiles']} photos on the first page"
                  f"{' (more behind a link)' if last['more'] else ''}, {last['guesses']} model guesses on them")
            print(f"      HTML received {shown['html']}, DOMContentLoaded {shown['contentLoaded']}, first photo loaded "
                  f"{shown['photo']}, project.js run {shown['scripted']}, interactive {shown['interactive']} "
                  f"(medians of {len(loads)}); {last['thumbnails']} thumbnails fetched by then")
            tops = [load["top"] for load in loads if load["top"] is not None]
            where = f" (its top {statistics.median(tops):.0f} px down a {last['height']} px viewport)" if tops else ""
            print(f"      first photo within the viewport without scrolling: {sum(within)} of {len(loads)} loads{where}; "
                  f"wholly within it: {sum(fully)} of {len(loads)}")
            if any(load["overflow"] for load in loads):
                print("      the page is wider than the viewport (horizontal overflow)")
            summary[(viewport, name)] = times
        for key, label in [("contentLoaded", "DOMContentLoaded"), ("interactive", "interactive")]:
            one, other = summary[(viewport, baseline)][key], summary[(viewport, large)][key]
            ratio = f"{other / one:.2f}×" if one and other else "n/a"
            print(f"    ratio {large} / {baseline}, {label}: {ratio}")
    return summary


def main(iris, work):
    work = Path(work) / "project-page"
    shutil.rmtree(work, ignore_errors=True)
    photos = work / "photos"
    photos.mkdir(parents=True)
    start = time.perf_counter()
    make_photos(photos, PHOTOS + BASELINE_PHOTOS)
    # The baseline's 10 photos (two of each label) apart from the 1,000.
    baseline_folder = work / "baseline"
    for label in LABELS:
        (baseline_folder / label).mkdir(parents=True)
        for path in sorted((photos / label).iterdir())[:BASELINE_PHOTOS // len(LABELS)]:
            shutil.move(path, baseline_folder / label / path.name)
    env = dict(os.environ, IRIS_ANALYSIS_AUTO_MODELS="mobilenet-v2", IRIS_LOG_LEVEL="warning",
               IRIS_UPLOAD_RATE_LIMIT="1000000")
    made = time.perf_counter()
    server = Server(iris, work / "data", env)
    try:
        names = (f"{BASELINE_PHOTOS} photos", f"{PHOTOS:,} photos")
        projects = {names[0]: fill(server, iris, work, "Ten photos", baseline_folder, env),
                    names[1]: fill(server, iris, work, "A thousand photos", photos, env)}
        uploaded = time.perf_counter()
        server.settle()
        print(f"== project page, {names[1]} against {names[0]} ({LOADS} loads each, alternating, headless Chromium, "
              "cache off, signed in as an administrator)")
        print(f"  made, uploaded and analysed: photos {made - start:.0f} s, upload {uploaded - made:.0f} s, "
              f"jobs settled {time.perf_counter() - uploaded:.0f} s later")
        summary = report(measure(server, projects), names)
        print(json.dumps({f"{viewport} {name}": times for (viewport, name), times in summary.items()}))
    finally:
        server.stop()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
