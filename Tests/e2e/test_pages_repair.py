"""Repair mode laid out for the screen (issue 31, item 5), in Chromium at 390×844 and 1280×900:
the editor opens over the photo page with the photo fitted to the screen and Go in view, the
result fits with its before/after slider, Keep and Discard look different, the page says the
result is already in the project, and the controls have names in the accessibility tree.
One repair: brushed and run at phone size, its result then looked at on both screens, discarded,
and found in the project's repair history."""

from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from pages import accept_confirmation, accessible_names, page_wait, wider_than_the_screen
from test_browser import browser, screenshots, sign_in  # noqa: F401 (a fixture, used by name)

PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
DESKTOP = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}


def screen(driver, size):
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", size)


def in_view(driver, element_id):
    """Whether the element is wholly inside the viewport, as it is laid out now (no scrolling)."""
    return driver.execute_script(
        "const box = document.getElementById(arguments[0]).getBoundingClientRect();"
        "return box.width > 0 && box.height > 0 && box.top >= 0 && box.left >= 0"
        " && box.bottom <= innerHeight + 0.5 && box.right <= innerWidth + 0.5;", element_id)


def photo_fitted(driver):
    """The photo is shown whole, not scrolled: at its own size, or as large as the screen allows
    (as wide as its box, or the editor as tall as the screen): no zoom beyond the screen, and no
    empty band where a larger photo would fit."""
    return driver.execute_script(
        "const dialog = document.getElementById('repair'), photo = document.getElementById('repair-photo');"
        "const stage = document.getElementById('repair-stage');"
        "const p = photo.getBoundingClientRect(), s = stage.getBoundingClientRect();"
        "const inside = p.left >= s.left - 0.5 && p.right <= s.right + 0.5 && p.top >= s.top - 0.5 && p.bottom <= s.bottom + 0.5;"
        "const own = Math.abs(p.width - photo.naturalWidth) <= 1;"
        "const spare = innerHeight - dialog.lastElementChild.getBoundingClientRect().bottom"
        "  - parseFloat(getComputedStyle(dialog).paddingBottom);"
        "return inside && (own || s.width - p.width <= 4 || spare <= 4);")


def open_editor(driver):
    driver.find_element(By.ID, "repair-open").click()
    page_wait(driver, 15).until(lambda d: d.execute_script(
        "const c = document.getElementById('repair-canvas'); return c.width > 0 && c.getBoundingClientRect().width > 0"))


def brush(driver):
    """A stroke across the middle of the photo, as a mouse draws it (touch uses the same pointer events)."""
    canvas = driver.find_element(By.ID, "repair-canvas")
    width = canvas.rect["width"]
    actions = webdriver.ActionChains(driver)
    actions.move_to_element_with_offset(canvas, int(-width * 0.2), 0).click_and_hold()
    for _ in range(8):
        actions.move_by_offset(int(width * 0.05), 1)
    actions.release().perform()
    page_wait(driver, 5).until(lambda d: d.find_element(By.ID, "repair-go").is_enabled())


def check_editor(driver):
    assert driver.find_element(By.ID, "repair").get_attribute("open") is not None
    assert in_view(driver, "repair-canvas") and in_view(driver, "repair-go")
    assert in_view(driver, "repair-size") and in_view(driver, "repair-clear")
    assert photo_fitted(driver)
    assert wider_than_the_screen(driver) == []


def check_result(driver):
    page_wait(driver, 10).until(lambda d: d.execute_script(
        "const a = document.getElementById('repair-after'); return a.naturalWidth > 0 && a.getBoundingClientRect().width > 0"))
    for part in ("repair-after", "repair-compare", "repair-slider", "repair-keep", "repair-discard"):
        assert in_view(driver, part), part
    assert wider_than_the_screen(driver) == []


def test_repair_fits_the_screen_on_a_phone_and_a_desktop(server, browser):  # noqa: F811 (the fixture from test_browser)
    # arrange: a real photo taller than a desktop screen leaves room for it (1000×872)
    photos = Path(__file__).resolve().parents[2] / ".cache" / "photos"
    project = server.create_project("Sky")
    uploaded = server.http.post(server.url(f"/api/v1/projects/{project}/images"), timeout=60, files={
        "file": ("hubble.jpg", (photos / "hubble_deep_field.jpg").read_bytes(), "image/jpeg")})
    assert uploaded.status_code in (200, 201), uploaded.text
    sha256 = uploaded.json()["sha256"]
    sign_in(server, browser)
    shots = screenshots(server)

    # act: on a phone, open Repair mode from the photo's page
    screen(browser, PHONE)
    browser.get(server.url(f"/images/{sha256}"))
    open_editor(browser)

    # check: the photo is fitted to the screen, with the tools and Go in view; all named
    check_editor(browser)
    controls = accessible_names(browser)
    for control in [("dialog", "Repair part of this photo"), ("button", "Close"), ("radio", "Brush"), ("radio", "Eraser"),
                    ("slider", "Size"), ("button", "Undo"), ("button", "Redo"), ("button", "Clear"),
                    ("button", "Zoom out"), ("button", "Fit the photo to the screen"), ("button", "Zoom in"), ("button", "Go")]:
        assert control in controls, control
    assert any(role in ("img", "image") and name.startswith("Mask") for role, name in controls), sorted(controls)

    # act: brush a stroke across the photo and press Go
    brush(browser)
    browser.save_screenshot(str(shots / "repair-phone.png"))
    browser.find_element(By.ID, "repair-go").click()

    # check: the result takes the photo's place, fitted, with the slider; Keep and Discard differ
    page_wait(browser, 120).until(lambda driver: driver.find_element(By.ID, "repair-result").is_displayed())
    check_result(browser)
    keep, discard = browser.find_element(By.ID, "repair-keep"), browser.find_element(By.ID, "repair-discard")
    looks = ("background-color", "color", "border-top-color", "font-weight")
    assert [keep.value_of_css_property(p) for p in looks] != [discard.value_of_css_property(p) for p in looks]
    assert discard.value_of_css_property("background-color") == "rgba(0, 0, 0, 0)"  # quiet: no fill
    assert keep.value_of_css_property("background-color") != "rgba(0, 0, 0, 0)"  # primary: filled
    # the page says the result is already in the project, and it is
    result = server.http.get(server.url(f"/api/v1/projects/{project}/repairs"), timeout=10).json()["items"][0]["result_sha256"]
    assert "already joined Sky" in browser.find_element(By.ID, "repair-joined").text
    assert keep.get_attribute("href").endswith(f"/images/{result}")
    assert server.http.get(server.url(f"/api/v1/projects/{project}/images/{result}/labels"), timeout=10).status_code == 200
    controls = accessible_names(browser)
    for control in [("slider", "Before ↔ after"), ("link", "Keep it"), ("button", "Discard it")]:
        assert control in controls, control
    browser.save_screenshot(str(shots / "repair-result-phone.png"))

    # check: on a desktop screen the same result fits too
    screen(browser, DESKTOP)
    check_result(browser)
    browser.save_screenshot(str(shots / "repair-result-desktop.png"))

    # act: discard it (the question is asked), which takes it out of the project and brings back the brush
    discard.click()
    assert "leaves the project" in accept_confirmation(browser)
    page_wait(browser, 10).until(lambda driver: driver.find_element(By.ID, "repair-canvas").is_displayed())
    check_editor(browser)
    assert "the result left the project" in browser.find_element(By.ID, "repair-status").text
    assert server.http.get(server.url(f"/api/v1/projects/{project}/images/{result}/labels"), timeout=10).status_code == 404

    # check: opened afresh on a desktop, the editor fits as well, and every control is reached by keyboard
    browser.get(server.url(f"/images/{sha256}"))
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")  # wherever the page was
    open_editor(browser)
    check_editor(browser)
    brush(browser)
    browser.save_screenshot(str(shots / "repair-desktop.png"))
    # every control is reached with Tab and shows where the focus is
    reached = []
    for _ in range(14):
        webdriver.ActionChains(browser).send_keys(Keys.TAB).perform()
        reached.append(browser.execute_script(
            "const e = document.activeElement; return [e.id || e.name || e.tagName, getComputedStyle(e).outlineStyle]"))
    names = {name for name, _ in reached}
    for control in ("repair-close", "repair-tool", "repair-size", "repair-clear", "repair-zoom-out", "repair-zoom-fit",
                    "repair-zoom-in", "repair-domain", "repair-go"):
        assert control in names, reached
    assert all(outline != "none" for name, outline in reached if name.startswith("repair")), reached

    # check: the project's repair history shows the discarded repair in the first screen, on a
    # phone as a card rather than a table that scrolls sideways
    for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        screen(browser, size)
        browser.get(server.url(f"/projects/{project}/repairs"))
        row = browser.find_element(By.CSS_SELECTOR, "#repairs tbody tr")
        assert "discarded" in row.text and "succeeded" in row.text
        assert browser.execute_script(
            "const box = arguments[0].getBoundingClientRect(); return box.bottom <= innerHeight && box.right <= innerWidth", row)
        assert wider_than_the_screen(browser) == []
        browser.save_screenshot(str(shots / f"repair-history-{name}.png"))
