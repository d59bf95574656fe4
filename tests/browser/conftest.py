"""Fixtures of the browser tests: the real system as processes (API and workers) and headless Chromium
(Debian's `chromium` through its `chromedriver`), with a screenshot of each page saved under artifacts/browser/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.pipeline.harness import Running, running_world
from tests.support import ROOT

ARTIFACTS = ROOT / "artifacts" / "browser"
PHONE = (390, 844)
DESKTOP = (1280, 900)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage")


@pytest.fixture(scope="session")
def system() -> Iterator[Running]:
    """An isolated world with its API and `flashsale worker all`; a short timeout sweep."""
    with running_world(("all",)) as run:
        yield run


def _browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in FLAGS:
        options.add_argument(arg)
    # The driver path given: Selenium Manager never tries to download one.
    return webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    driver = _browser()
    driver.set_window_size(*DESKTOP)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def shot(browser: webdriver.Chrome, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """Save a screenshot: shot("item") writes artifacts/browser/<test>-item.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def save(name: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{name}.png"
        browser.save_screenshot(str(path))
        return path

    return save
