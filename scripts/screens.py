"""Screenshots of every page at a desktop's and a phone's size, for docs/screens/.

    python scripts/screens.py BASE USER PASSWORD PROJECT [OUT]

BASE is a running Iris (e.g. http://127.0.0.1:8080) whose PROJECT (an id) holds photos, USER
an administrator. Each page is loaded in headless Chromium at 1280 x 900 and at 390 x 844 (a
phone, emulated) and saved as OUT/<page>-desktop.png and OUT/<page>-phone.png (OUT defaults to
docs/screens). Also printed per page and size: whether the page's first photo or first row is
within the first screen, and any element wider than the screen.
"""
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

# What a page says while it is still filling in.
BUSY = "/Loading|Checking the labels|Laying the photos out|Looking…/"
SIZES = {"desktop": (1280, 900, False), "phone": (390, 844, True)}
# What "the first photo or first row" is on each page.
FIRST = "#gallery .tile img, #picture, #review-stage, #search-results .tile, #check-list li, .group, " \
        "table tbody tr, .projects li, #link-upload"


def main(base, user, password, project, out="docs/screens"):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900", "--hide-scrollbars"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        browser.get(base + "/login")
        shoot(browser, out, "login")
        browser.find_element(By.NAME, "username").send_keys(user)
        browser.find_element(By.NAME, "password").send_keys(password)
        browser.find_element(By.CSS_SELECTOR, "#login button").click()
        time.sleep(1)
        cookie = "; ".join(f"{c['name']}={c['value']}" for c in browser.get_cookies())
        photo = api(base, cookie, f"/api/v1/projects/{project}/images?limit=1")["items"][0]["sha256"]
        # A contributor link of its own (the code of an existing one is never shown again).
        browser.get(base + "/")
        link = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0], {method: 'POST', body: JSON.stringify({name: 'screenshots', max_uploads: 20}),"
            " headers: {'Content-Type': 'application/json', 'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content}})"
            ".then((r) => r.json()).then(done)", f"/api/v1/projects/{project}/links")
        pages = {
            "home": "/", "project": f"/projects/{project}", "photo": f"/images/{photo}",
            "check": f"/projects/{project}/check", "review": f"/projects/{project}/review",
            "duplicates": f"/projects/{project}/duplicates", "members": f"/projects/{project}/members",
            "account": "/account/tokens", "admin": "/admin", "search": "/search?q=windmill",
        }
        for name, path in pages.items():
            browser.get(base + path)
            shoot(browser, out, name)
        browser.delete_all_cookies()
        browser.get(base + link["url"])
        shoot(browser, out, "contributor")
    finally:
        browser.quit()


def api(base, cookie, path):
    request = urllib.request.Request(base + path, headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def shoot(browser, out, name):
    for size, (width, height, mobile) in SIZES.items():
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
        browser.refresh()
        # Settled: the page's "loading" and "checking" notes have gone (at most 20 s).
        for _ in range(40):
            time.sleep(0.5)
            if not browser.execute_script("return new RegExp(arguments[0]).test(document.body.innerText)", BUSY.strip("/")):
                break
        first = browser.execute_script(
            "const e = document.querySelector(arguments[0]); if (!e) return null;"
            "const r = e.getBoundingClientRect(); return r.top < innerHeight && r.bottom > 0;", FIRST)
        wide = browser.execute_script(
            "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1)"
            ".slice(0, 3).map(e => e.tagName + (e.id ? '#' + e.id : ''))")
        path = out / f"{name}-{size}.png"
        browser.save_screenshot(str(path))
        # Keep the files small (libvips): a palette is plenty for a page; one full of photos is
        # kept as a JPEG instead.
        small = path.with_suffix(".small.png")
        subprocess.run(["vips", "copy", str(path), f"{small}[palette]"], check=True, capture_output=True)
        small.replace(path)
        if path.stat().st_size > 250_000:
            jpeg = path.with_suffix(".jpg")
            subprocess.run(["vips", "copy", str(path), f"{jpeg}[Q=80]"], check=True, capture_output=True)
            path.unlink()
            path = jpeg
        print(f"{name:11} {size:7} first in view: {first}  too wide: {wide or 'nothing'}  {path.stat().st_size // 1024} KB")
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


if __name__ == "__main__":
    main(*sys.argv[1:])
