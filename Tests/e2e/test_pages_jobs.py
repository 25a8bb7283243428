"""The jobs and history pages as a person uses them in Chromium: filter the jobs (with script
and without), read a row (project name, kind in words, times, a link to the photo), page
through a long history, and find every filter control by its name in the accessibility tree."""

import re
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from conftest import variant
from pages import accessible_names, page_wait, wider_than_the_screen
from test_browser import browser, screenshots, sign_in  # noqa: F401 (fixtures)

PROJECT = "Birds of the marsh"
OTHER = "Garden snails"
HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


def wait_for_jobs(server, project, kind, count):
    deadline = time.time() + 60
    while time.time() < deadline:
        items = server.http.get(server.url("/api/v1/jobs"), params={"project_id": project, "kind": kind}, timeout=10).json()["items"]
        if len(items) >= count and all(item["state"] == "succeeded" for item in items):
            return items
        time.sleep(0.3)
    raise AssertionError(f"the {kind} jobs of project {project} did not finish")


def shoot(driver, server, name, phone=False):
    """A screenshot into IRIS_SCREENSHOTS (or beside the data folder); phone ones at 390 × 844, scale 1."""
    driver.save_screenshot(str(screenshots(server) / f"{name}-{'phone' if phone else 'desktop'}.png"))


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_filter_jobs_and_page_through_the_history(server, browser, base_jpeg):  # noqa: F811 (the fixture from test_browser)
    # setup: two projects with photos (each upload queues a thumbnails job), a job that dies,
    # and more than a page of history (a project described 60 times)
    birds = server.create_project(PROJECT)
    snails = server.create_project(OTHER)
    photos = []
    for index in range(3):
        response = server.http.post(server.url(f"/api/v1/projects/{birds}/images"),
                                    files={"file": (f"heron-{index}.jpg", variant(base_jpeg, index), "image/jpeg")}, timeout=30)
        assert response.status_code == 201, response.text
        photos.append(response.json()["sha256"])
    response = server.http.post(server.url(f"/api/v1/projects/{snails}/images"),
                                files={"file": ("snail.jpg", variant(base_jpeg, 99), "image/jpeg")}, timeout=30)
    assert response.status_code == 201, response.text
    dead = server.http.post(server.url("/api/v1/jobs"), timeout=10,
                            json={"kind": "diagnostic", "payload": {"fail_attempts": 10}, "max_attempts": 1}).json()["id"]
    for index in range(60):
        changed = server.http.patch(server.url(f"/api/v1/projects/{snails}"), json={"description": f"slow, round {index}"}, timeout=10)
        assert changed.status_code == 200, changed.text
    wait_for_jobs(server, birds, "image.thumbnails", 3)

    # act: open the jobs page
    sign_in(server, browser)
    browser.get(server.url("/jobs"))
    wait = page_wait(browser, 20)
    rows = browser.find_elements(By.CSS_SELECTOR, "#jobs tbody tr")

    # check: rows name projects, say the kind in words, show times, and link to the photo by its thumbnail
    thumbnail_rows = [row for row in rows if "Make thumbnails" in row.text]
    assert thumbnail_rows, [row.text for row in rows]
    first = thumbnail_rows[0]
    assert PROJECT in first.text or OTHER in first.text
    assert not re.search(r"\bproject \d+\b", browser.find_element(By.ID, "jobs").text)
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", first.find_element(By.CSS_SELECTOR, "td[data-label=Created]").text)
    assert first.find_element(By.CSS_SELECTOR, "td[data-label=Took]").text.endswith("s")
    link = first.find_element(By.CSS_SELECTOR, "td[data-label=About] a")
    assert re.fullmatch(r".*/images/[0-9a-f]{64}", link.get_attribute("href"))
    assert link.find_element(By.TAG_NAME, "img").get_attribute("naturalWidth") != "0"
    shoot(browser, server, "jobs")

    # check: every filter control has a name in the accessibility tree
    names = accessible_names(browser)
    flat = [name for _, name in names]
    for label in ["State", "Kind", "Project", "Created from (UTC)", "Created before (UTC)", "Filter"]:
        assert label in flat, (label, names)

    # act: with script, filter by state (dead): the list changes in place and the address follows
    Select(browser.find_element(By.ID, "job-state")).select_by_value("dead")
    browser.find_element(By.CSS_SELECTOR, "#job-filters button[type=submit]").click()
    wait.until(lambda b: "state=dead" in b.current_url)
    wait.until(lambda b: [row.get_attribute("data-state") for row in b.find_elements(By.CSS_SELECTOR, "#jobs tbody tr")] == ["dead"])
    # check: the dead job is the one asked to die, with its error and a Retry button
    row = browser.find_element(By.CSS_SELECTOR, "#jobs tbody tr")
    assert row.get_attribute("data-id") == str(dead)
    assert "Diagnostic" in row.text and "diagnostic failure" in row.text
    assert row.find_element(By.CSS_SELECTOR, "button").text == "Retry"

    # act: without script, the GET form filters by project and kind (what a form sends: empty fields too)
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        browser.get(server.url("/jobs"))
        Select(browser.find_element(By.ID, "job-project")).select_by_visible_text(PROJECT)
        Select(browser.find_element(By.ID, "job-kind")).select_by_visible_text("Make thumbnails")
        browser.find_element(By.ID, "job-since").send_keys("01012000")  # a date field: month, day, year
        browser.find_element(By.CSS_SELECTOR, "#job-filters button[type=submit]").click()
        wait.until(lambda b: f"project_id={birds}" in b.current_url)
        # check: only the birds' thumbnail jobs, one per photo, each linking to one of its photos
        rows = browser.find_elements(By.CSS_SELECTOR, "#jobs tbody tr")
        assert len(rows) == 3, [row.text for row in rows]
        assert all(PROJECT in row.text and "Make thumbnails" in row.text for row in rows)
        linked = {row.find_element(By.CSS_SELECTOR, "td[data-label=About] a").get_attribute("href").rsplit("/", 1)[1] for row in rows}
        assert linked == set(photos)
        assert Select(browser.find_element(By.ID, "job-project")).first_selected_option.text == PROJECT
        assert browser.find_element(By.ID, "job-since").get_attribute("value") == "2000-01-01"
        # a filter that matches nothing says so
        browser.get(server.url(f"/jobs?project_id={birds}&created_before=2000-01-01"))
        assert "No job matches these filters." in browser.find_element(By.ID, "no-jobs").text
    finally:
        browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})

    # act: the history, newest first, then its older page
    browser.get(server.url("/history"))
    first_page = [int(row.get_attribute("data-id")) for row in browser.find_elements(By.CSS_SELECTOR, "#history tbody tr")]
    history_text = browser.find_element(By.ID, "history").text
    # check: a full page, names instead of "project N" and no 64-character hashes
    assert len(first_page) == 50 and first_page == sorted(first_page, reverse=True)
    assert OTHER in history_text and not re.search(r"\bproject \d+\b", history_text)
    assert not HEX64.search(history_text)
    browser.find_element(By.ID, "history-next").click()
    wait.until(lambda b: "cursor=" in b.current_url)
    second_page = [int(row.get_attribute("data-id")) for row in browser.find_elements(By.CSS_SELECTOR, "#history tbody tr")]
    assert second_page and max(second_page) < min(first_page)
    # check: the uploads on the older page show their photo's thumbnail, linking to its page
    uploads = [row for row in browser.find_elements(By.CSS_SELECTOR, "#history tbody tr") if "image uploaded" in row.text]
    assert len(uploads) == 4, [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#history tbody tr")]
    for row in uploads:
        photo = row.find_element(By.CSS_SELECTOR, "td[data-label=About] a")
        assert photo.find_element(By.TAG_NAME, "img").get_attribute("src").endswith("/thumbnail?size=256")
        assert re.search(r"(heron-\d|snail)\.jpg", photo.text)
    assert not HEX64.search(browser.find_element(By.ID, "history").text)
    browser.find_element(By.ID, "history-newest").click()
    wait.until(lambda b: "cursor=" not in b.current_url)

    # act: filter the history by project and action
    Select(browser.find_element(By.ID, "history-project")).select_by_visible_text(PROJECT)
    Select(browser.find_element(By.ID, "history-action")).select_by_visible_text("image uploaded")
    browser.find_element(By.CSS_SELECTOR, "#history-filters button[type=submit]").click()
    wait.until(lambda b: "action=image.uploaded" in b.current_url)
    rows = browser.find_elements(By.CSS_SELECTOR, "#history tbody tr")
    assert len(rows) == 3 and all(PROJECT in row.text and "image uploaded" in row.text for row in rows)
    shoot(browser, server, "history")
    names = accessible_names(browser)
    flat = [name for _, name in names]
    assert "Project" in flat and "What happened" in flat, names

    # check: at phone size both pages are stacked cards, with nothing past the right edge and the first row in view
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    try:
        for path, table, name in [("/jobs", "jobs", "jobs"), ("/history", "history", "history")]:
            browser.get(server.url(path))
            wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr"))
            assert wider_than_the_screen(browser) == [], path
            top = browser.execute_script(f"return document.querySelector('#{table} tbody tr').getBoundingClientRect().top")
            assert top < 844, (path, top)
            shoot(browser, server, name, phone=True)
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
