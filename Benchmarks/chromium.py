"""Debian's headless Chromium for the page benchmarks, at a desktop's size."""
from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def headless_chromium():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
