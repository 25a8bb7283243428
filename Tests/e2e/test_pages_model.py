"""The model page in plain words, as a person reads it in Chromium: each class says how many
photos taught it and when it answers (the figures behind a disclosure), a classification is one
sentence with one percentage, runs on few photos say they are not reliable, the test history is a
chart with its 95% interval that the accessibility tree names, and the active classifier's
guesses show on the gallery's tiles."""

import re
import time
import zipfile
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from pages import accessible_names, page_wait, wider_than_the_screen
from test_browser import browser, screenshots, set_viewport, sign_in  # noqa: F401 (fixtures)

EVALSET = Path(__file__).resolve().parents[2] / ".cache" / "evalset"
CLASSES = ["brick", "grass", "coffee"]


def zip_of(workdir, label, count, start=0):
    path = workdir / f"{label}-{start}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(start, start + count):
            archive.write(EVALSET / label / f"{index:02d}.jpg", f"{label}/{index:02d}.jpg")
    return path


def finished(server, response, seconds=180):
    """Waits for the job a POST queued and answers its final state."""
    assert response.status_code == 202, response.text
    job = response.json()["id"]
    deadline = time.time() + seconds
    while time.time() < deadline:
        state = server.http.get(server.url(f"/api/v1/jobs/{job}"), timeout=10).json()
        if state["state"] in ("succeeded", "failed", "dead", "cancelled"):
            return state
        time.sleep(0.5)
    raise AssertionError(f"job {job} did not finish")


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_the_model_page_reads_in_plain_words(server, browser, workdir):  # noqa: F811 (the fixture)
    # setup: three classes of 12 photos each (the zips label the photos), a classifier trained
    # and made active, and one test of the learner: all far fewer than 30 photos per class
    project = server.create_project("Textures")
    for label in CLASSES:
        made = server.http.post(server.url(f"/api/v1/projects/{project}/learner/classes"), data={"name": label},
                                files={"file": (f"{label}.zip", zip_of(workdir, label, 12).read_bytes(), "application/zip")}, timeout=120)
        assert made.status_code == 201, made.text
    post = lambda path, body: server.http.post(server.url(f"/api/v1/projects/{project}{path}"), json=body, timeout=30)  # noqa: E731
    assert finished(server, post("/classifiers", {"activate": True}))["state"] == "succeeded"
    for target in ["learner", "classifier", "learner"]:
        assert finished(server, post("/evaluations", {"target": target}))["state"] == "succeeded"

    # act: open the model page
    sign_in(server, browser)
    set_viewport(browser, 1280, 900)
    browser.get(server.url(f"/projects/{project}/model"))
    page_wait(browser, 15).until(lambda driver: len(driver.find_elements(By.CSS_SELECTOR, ".class-card")) == 3)

    # check: each class in words: its photos and when it answers, how alike its photos are
    card = browser.find_element(By.CSS_SELECTOR, ".class-card[data-name=grass]")
    summary = card.find_element(By.CSS_SELECTOR, ".summary").text
    assert re.fullmatch(r"12 photos · answers (for most photos like its own|when a photo is about as close as its own usually are"
                        r"|only when closer than usual for this class)", summary), summary
    assert card.find_element(By.CSS_SELECTOR, "h3 .spread").text in ("tight", "usual", "spread out")
    # the raw statistics wait behind a disclosure, and open from it
    figures = card.find_element(By.CSS_SELECTOR, "details")
    assert "±" not in card.text
    figures.find_element(By.TAG_NAME, "summary").click()
    assert re.search(r"lies \d\.\d{3} ± \d\.\d{3} from it \(all classes: \d\.\d{3} ± \d\.\d{3}\); it answers within \d\.\d{3}",
                     figures.text), figures.text

    # check: the classifier's figures and the test's say they are not reliable on 12 photos a class
    page_wait(browser, 15).until(lambda driver: "(active)" in driver.find_element(By.ID, "classifiers").text)
    assert "Not reliable: about" in browser.find_element(By.CSS_SELECTOR, "#classifiers tbody tr").text
    row = page_wait(browser, 15).until(lambda driver: driver.find_element(By.CSS_SELECTOR, "#evaluations tbody tr"))
    assert "not reliable" in row.text
    assert re.fullmatch(r"\d+–\d+%", row.find_element(By.CSS_SELECTOR, "td.interval").text), row.text
    detail = browser.find_element(By.ID, "evaluation-detail")
    assert re.search(r"right of \d+ photos \(95% interval \d+–\d+%\)", detail.text), detail.text
    assert "Not reliable: a class had only" in detail.find_element(By.CSS_SELECTOR, ".caution").text
    # an older run opens from the keyboard: its row takes focus and Enter shows it
    oldest = browser.find_elements(By.CSS_SELECTOR, "#evaluations tbody tr")[-1]
    browser.execute_script("arguments[0].focus()", oldest)
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    page_wait(browser, 5).until(lambda driver: driver.find_element(By.CSS_SELECTOR, "#evaluation-detail h3").text.startswith(
        f"Run {oldest.get_attribute('data-run')}: learner"))

    # check: the history is a chart with its interval drawn, named for screen readers
    chart = browser.find_element(By.CSS_SELECTOR, "#history-chart svg")
    assert len(chart.find_elements(By.CSS_SELECTOR, "line.whisker")) == 3 and chart.find_elements(By.CSS_SELECTOR, "polygon.band.learner")
    assert len(chart.find_elements(By.CSS_SELECTOR, "circle.series.classifier")) == 1
    images = [name for role, name in accessible_names(browser) if role in ("image", "img")]
    names = [name for name in images if name.startswith("Accuracy of")]
    assert names and "95% interval" in names[0] and "The table below lists every run" in names[0], images

    # act: classify a photo of a taught class and one of a class never taught
    (workdir / "lawn.jpg").write_bytes((EVALSET / "grass" / "20.jpg").read_bytes())
    (workdir / "launch.jpg").write_bytes((EVALSET / "rocket" / "20.jpg").read_bytes())
    browser.find_element(By.ID, "classify-files").send_keys(str(workdir / "lawn.jpg") + "\n" + str(workdir / "launch.jpg"))

    def sentences(driver):
        rows = driver.find_elements(By.CSS_SELECTOR, "#classify-results li")
        said = {row.find_element(By.CSS_SELECTOR, ".name").text: row.find_elements(By.CSS_SELECTOR, ".sentence") for row in rows}
        return {name: found[0].text for name, found in said.items() if found} if len(said) == 2 and all(said.values()) else False
    said = page_wait(browser, 60).until(sentences)
    # check: one sentence each, with one percentage or none
    assert re.fullmatch(r"grass, \d{1,2}% sure(; \w+ is nearly as close)?", said["lawn.jpg"]), said
    assert re.fullmatch(r"unknown — nearest class (brick|grass|coffee), but (a little |much )?further than its photos usually are",
                        said["launch.jpg"]), said
    lawn = browser.find_element(By.CSS_SELECTOR, "#classify-results li.known")
    assert lawn.find_element(By.CSS_SELECTOR, "strong.answer").text == "grass"
    assert len(re.findall(r"\d+%", lawn.text)) == 1, lawn.text  # the distances behind it are closed, and have no percentages
    assert not wider_than_the_screen(browser), wider_than_the_screen(browser)
    browser.execute_script("document.getElementById('classify-zone').scrollIntoView()")
    browser.save_screenshot(str(screenshots(server) / "model-answers-desktop.png"))
    browser.execute_script("document.getElementById('history-chart').scrollIntoView()")
    browser.save_screenshot(str(screenshots(server) / "model-history-desktop.png"))
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(screenshots(server) / "model-desktop.png"))

    # check: at phone size nothing is wider than the screen, and the first class shows at once
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    browser.get(server.url(f"/projects/{project}/model"))
    page_wait(browser, 15).until(lambda driver: len(driver.find_elements(By.CSS_SELECTOR, ".class-card")) == 3)
    page_wait(browser, 15).until(lambda driver: driver.find_elements(By.CSS_SELECTOR, "#history-chart svg"))
    assert not wider_than_the_screen(browser), wider_than_the_screen(browser)
    top = browser.execute_script("return document.querySelector('.class-card').getBoundingClientRect().top")
    assert top < 844, top
    browser.save_screenshot(str(screenshots(server) / "model-phone.png"))
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    # check: the active classifier's guesses are on the gallery's tiles, beside the labels
    browser.get(server.url(f"/projects/{project}"))
    chips = page_wait(browser, 15).until(lambda driver: driver.find_elements(By.CSS_SELECTOR, "#gallery .tile .label.head"))
    said = [chip.get_attribute("textContent") for chip in chips]
    assert len(chips) == 36 and all(re.fullmatch(r"trained classifier: (brick|grass|coffee) \d+%", text) for text in said), said
    assert "trained classifier" in chips[0].get_attribute("title")

    # act: teach "lawn" from other photos of grass, after the test (so the test cannot say)
    made = server.http.post(server.url(f"/api/v1/projects/{project}/learner/classes"), data={"name": "lawn"},
                            files={"file": ("lawn.zip", zip_of(workdir, "grass", 12, start=12).read_bytes(), "application/zip")},
                            timeout=120)
    assert made.status_code == 201, made.text
    browser.get(server.url(f"/projects/{project}/model"))
    # check: its centroid is nearer grass's than its photos are to it, and the card says so
    lawn = page_wait(browser, 15).until(lambda driver: driver.find_element(By.CSS_SELECTOR, ".class-card[data-name=lawn]"))
    assert lawn.find_element(By.CSS_SELECTOR, ".confused").text == "Close to grass: their photos may be taken for each other."
