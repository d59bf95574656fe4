"""Small steps on the storefront's pages, each a bounded wait that says what did not happen."""

from __future__ import annotations

import secrets

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait


def wait(driver: WebDriver, timeout: float = 15) -> WebDriverWait:
    return WebDriverWait(driver, timeout, poll_frequency=0.1)


def find(driver: WebDriver, css: str, timeout: float = 15) -> WebElement:
    return wait(driver, timeout).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)), f"no {css}")


def text_in(driver: WebDriver, css: str, text: str, timeout: float = 15) -> None:
    wait(driver, timeout).until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text), f"{css}: {text}")


def sign_up(driver: WebDriver, base: str) -> str:
    """Sign up a new shopper through the page (which logs them in); their username."""
    name = f"shopper{secrets.token_hex(4)}"
    driver.get(f"{base}/#/login")
    find(driver, "#signup-user").send_keys(name)
    find(driver, "#signup-pass").send_keys("a good password 123")
    find(driver, "#signup button").click()
    text_in(driver, "#who", name)
    return name


def log_in(driver: WebDriver, base: str, name: str) -> None:
    driver.get(f"{base}/#/login")
    find(driver, "#login-user").send_keys(name)
    find(driver, "#login-pass").send_keys("a good password 123")
    find(driver, "#login button").click()
    text_in(driver, "#who", name)
