"""Waiting on pages in Chromium."""
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait


def page_wait(browser, seconds=15):
    """A WebDriverWait that keeps polling while the page replaces the elements it reads: a
    form post or a live update can swap a node between finding it and reading it. Chromium then
    says "stale element", or sometimes "Node with given id does not belong to the document"
    (a plain WebDriverException), which failed a run once. A real failure still ends the wait
    with a timeout naming what was awaited."""
    return WebDriverWait(browser, seconds, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException, WebDriverException))


def accept_confirmation(browser, seconds=5):
    """Says yes to the question a destructive button asks (a `confirm()`), and answers the
    question, so a test also checks that one was asked."""
    alert = WebDriverWait(browser, seconds).until(expected_conditions.alert_is_present())
    question = alert.text
    alert.accept()
    return question


def accessible_names(browser):
    """What a screen reader announces: the (role, name) of every node in Chromium's accessibility tree."""
    tree = browser.execute_cdp_cmd("Accessibility.getFullAXTree", {})
    return {(node.get("role", {}).get("value"), node.get("name", {}).get("value", "").strip()) for node in tree["nodes"]
            if not node.get("ignored")}


def wider_than_the_screen(browser):
    """The elements reaching past the right edge of the screen (none, on a page that fits)."""
    return browser.execute_script(
        "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1)"
        ".map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className).slice(0, 8)")
