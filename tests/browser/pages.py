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


def content_in(driver: WebDriver, css: str, text: str, timeout: float = 15) -> None:
    """Like text_in, on the element's textContent: what it says, not how the style sheet shows it (capitals)."""

    def check(d: WebDriver) -> bool:
        found = d.find_elements(By.CSS_SELECTOR, css)
        return bool(found) and text in (found[0].get_attribute("textContent") or "")

    wait(driver, timeout).until(check, f"{css}: {text}")


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


def fill(driver: WebDriver, css: str, text: str) -> None:
    """Replace what a field holds (a number field's default included) with `text`."""
    field = find(driver, css)
    field.clear()
    field.send_keys(text)


def admin_sign_in(driver: WebDriver, base: str, token: str) -> None:
    """Sign in on the admin page with a pasted admin token."""
    driver.get(f"{base}/#/admin")
    fill(driver, "#admin-token", token)
    find(driver, "#admin-sign-in button").click()
    find(driver, "#new-commodity")


def order_id_of(driver: WebDriver) -> str:
    """The order id of the order page on screen (#/order/ID)."""
    return driver.current_url.rsplit("/", 1)[1]


# Each visible element with text of its own, whose text contrasts with its background (the first opaque one
# among it and its ancestors) less than WCAG AA asks: 4.5:1, or 3:1 for large text (24 px, or 18.66 px bold).
_CONTRAST = """
const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
const lum = ([r, g, b]) => {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
const background = (node) => {
  for (let n = node; n; n = n.parentElement) {
    const c = rgb(getComputedStyle(n).backgroundColor);
    if (c.length === 3 || c[3] > 0) return c.slice(0, 3);
  }
  return [255, 255, 255];
};
const bad = [];
for (const node of document.querySelectorAll("body *")) {
  const own = [...node.childNodes].some((c) => c.nodeType === 3 && c.textContent.trim());
  if (!own || !node.getClientRects().length || node.closest("[hidden]")) continue;
  const style = getComputedStyle(node);
  if (style.visibility === "hidden") continue;
  const [a, b] = [lum(rgb(style.color)), lum(background(node))];
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
  const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
  const what = `${node.tagName.toLowerCase()} "${node.textContent.trim().slice(0, 30)}"`;
  if (ratio < need) bad.push(`${what}: ${ratio.toFixed(2)}`);
}
return bad;
"""


def low_contrast(driver: WebDriver) -> list[str]:
    """The text on screen whose contrast is below WCAG AA (empty when all of it passes)."""
    return list(driver.execute_script(_CONTRAST))
