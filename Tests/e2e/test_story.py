"""The issue's story end to end, in real browsers: a new user starts Iris, signs in with the
printed password, creates a project and a contributor link, a contributor opens the link on
a phone-sized browser and uploads; the owner sees it in the gallery, in the history, and as
a live notification."""

from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions

from conftest import IrisServer
from pages import page_wait


def chromium(width, height, mobile=False):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(flag)
    if mobile:
        options.add_experimental_option("mobileEmulation", {
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 3.0, "touch": True},
            "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156 Mobile Safari/537.36"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def test_new_user_to_crowdsourced_upload(workdir, base_jpeg):
    server = IrisServer(workdir / "data", "", provision=False).start()
    owner = contributor = None
    try:
        password = (workdir / "data" / "initial-admin-password").read_text().strip()
        # The owner signs in with the first-start password and creates a project.
        owner = chromium(1280, 900)
        wait = page_wait(owner, 20)
        owner.get(server.url("/"))
        owner.find_element(By.NAME, "username").send_keys("admin")
        owner.find_element(By.NAME, "password").send_keys(password)
        owner.find_element(By.CSS_SELECTOR, "#login button").click()
        wait.until(expected_conditions.presence_of_element_located((By.ID, "create-project")))
        form = owner.find_element(By.ID, "create-project")
        form.find_element(By.NAME, "name").send_keys("Street trees")
        form.find_element(By.NAME, "label_set").send_keys("oak, plane")
        form.find_element(By.TAG_NAME, "button").click()
        wait.until(expected_conditions.presence_of_element_located((By.ID, "links")))
        # ...and a contributor link offering the two labels.
        owner.find_element(By.CSS_SELECTOR, "#links summary").click()
        owner.find_element(By.CSS_SELECTOR, "#create-link input[name=label_choices]").send_keys("oak, plane")
        owner.find_element(By.CSS_SELECTOR, "#create-link button").click()
        link = wait.until(expected_conditions.visibility_of_element_located((By.ID, "new-link-url"))).get_attribute("href")
        assert "/l/" in link

        # A contributor opens the link on a phone-sized browser, picks a label, uploads.
        contributor = chromium(390, 844, mobile=True)
        contributor.get(link)
        assert contributor.find_element(By.TAG_NAME, "h1").text == "Street trees"
        assert contributor.execute_script("return document.documentElement.scrollWidth") <= 390  # fits the screen
        file_input = contributor.find_element(By.ID, "link-files")
        assert file_input.get_attribute("capture") == "environment"
        contributor.find_element(By.CSS_SELECTOR, "#link-label option[value='oak']").click()
        photo = workdir / "oak.jpg"
        photo.write_bytes(base_jpeg)
        file_input.send_keys(str(photo))
        status = page_wait(contributor, 30).until(
            lambda driver: driver.find_element(By.CSS_SELECTOR, "#progress .status").text in ("uploaded", "already stored") and
            driver.find_element(By.CSS_SELECTOR, "#progress .status"))
        assert status.text == "uploaded"
        contributor.save_screenshot(str(Path(workdir) / "phone.png"))

        # The owner's open page is told at once...
        toast = page_wait(owner, 20).until(lambda driver: [t for t in driver.find_elements(By.CSS_SELECTOR, "#toasts .toast")
                                                                if "image uploaded" in t.text])
        assert "link contributors" in toast[0].text
        # ...sees the photo, labelled, in the gallery...
        owner.refresh()
        wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#gallery .tile")))
        assert owner.find_element(By.CSS_SELECTOR, "#gallery .label").text == "oak"
        # ...and in the history, with the link as the actor.
        owner.get(server.url("/history"))
        rows = owner.find_elements(By.CSS_SELECTOR, "#history tbody tr")
        assert any("link contributors" in row.text and "image uploaded" in row.text for row in rows), [row.text for row in rows]
    finally:
        for driver in (owner, contributor):
            if driver:
                driver.quit()
        server.stop()
