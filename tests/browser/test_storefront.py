"""The storefront in headless Chromium against the real API and workers."""

from __future__ import annotations

import httpx
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.conftest import PHONE
from tests.browser.pages import find, log_in, sign_up, text_in, wait
from tests.pipeline.harness import Running
from tests.support import make_sale


def orders_of(system: Running, token: str, sale_id: str) -> list[dict]:
    with system.client() as c:
        r = c.get("/api/v1/orders", params={"sale_id": sale_id}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return r.json()["items"]


def session_token(browser: WebDriver) -> str:
    return str(browser.execute_script("return sessionStorage.getItem('flashsale.token')"))


def test_sign_up_log_in_wait_for_the_start_buy_and_pay(system: Running, browser: WebDriver, shot) -> None:
    with system.client() as c:
        sale = make_sale(c, system.world, stock=5, start_offset=6, length=600)
    name = sign_up(browser, system.base)
    shot("signed-up")
    browser.execute_script("sessionStorage.clear()")
    log_in(browser, system.base, name)
    assert "token" not in browser.current_url
    find(browser, f'li[data-sale="{sale["id"]}"]')
    text_in(browser, f'li[data-sale="{sale["id"]}"] .countdown', "starts in")
    shot("sales")
    browser.get(f"{system.base}/#/sale/{sale['id']}")
    buy = find(browser, "#buy")
    assert not buy.is_enabled(), "the buy button is enabled before the start"
    shot("item-before-start")
    # Enabled at the start, without a reload.
    wait(browser, 20).until(lambda d: d.find_element(By.ID, "buy").is_enabled(), "the buy button never enabled")
    browser.find_element(By.ID, "buy").click()
    text_in(browser, "#order-status", "created", timeout=20)
    text_in(browser, "#deadline", "Pay within")
    shot("order-created")
    find(browser, "#pay").click()
    text_in(browser, "#order-status", "paid")
    shot("order-paid")
    orders = orders_of(system, session_token(browser), sale["id"])
    assert [o["status"] for o in orders] == ["paid"]


def test_a_double_click_buys_once(system: Running, browser: WebDriver, shot) -> None:
    with system.client() as c:
        sale = make_sale(c, system.world, stock=10, per_user_limit=5)
    sign_up(browser, system.base)
    browser.get(f"{system.base}/#/sale/{sale['id']}")
    buy = find(browser, "#buy")
    wait(browser).until(lambda d: d.find_element(By.ID, "buy").is_enabled(), "the buy button never enabled")
    ActionChains(browser).double_click(buy).perform()
    text_in(browser, "#order-status", "created", timeout=20)
    shot("order")
    assert len(orders_of(system, session_token(browser), sale["id"])) == 1


def test_a_sold_out_sale_shows_sold_out(system: Running, browser: WebDriver, shot) -> None:
    with system.client() as c:
        sale = make_sale(c, system.world, stock=1)
        taken = c.post(f"/api/v1/sales/{sale['id']}/purchase", headers=system.world.headers("someone-else"))
        assert taken.status_code == 202, taken.text
    sign_up(browser, system.base)
    browser.get(f"{system.base}/#/sale/{sale['id']}")
    text_in(browser, ".message", "Sold out")
    assert not find(browser, "#buy").is_enabled()
    shot("item-sold-out")
    browser.get(f"{system.base}/#/sales")
    status = find(browser, f'li[data-sale="{sale["id"]}"] .status')
    assert status.get_attribute("textContent") == "sold out"  # shown in capitals by the style sheet
    shot("sales")


def test_the_pages_fit_a_phone(system: Running, browser: WebDriver, shot) -> None:
    with system.client() as c:
        sale = make_sale(c, system.world, stock=3)
    browser.set_window_size(*PHONE)
    sign_up(browser, system.base)
    for name, path, css in (("sales", "#/sales", "ul.sales"), ("item", f"#/sale/{sale['id']}", "#buy")):
        browser.get(f"{system.base}/{path}")
        find(browser, css)
        overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the {name} page scrolls sideways by {overflow}px at phone width"
        shot(name)
    browser.get(f"{system.base}/#/login")
    find(browser, "#login-user")
    shot("login")


def test_the_assets_are_cacheable_and_the_page_is_not(system: Running) -> None:
    page = httpx.get(f"{system.base}/")
    asset = httpx.get(f"{system.base}/static/app.js")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-cache"
    assert asset.status_code == 200 and "max-age" in asset.headers["cache-control"]


def test_an_unpaid_order_shows_cancelled_after_its_deadline(system: Running, browser: WebDriver, shot) -> None:
    with system.client() as c:
        sale = make_sale(c, system.world, stock=3, payment_timeout_seconds=3)
    sign_up(browser, system.base)
    browser.get(f"{system.base}/#/sale/{sale['id']}")
    wait(browser).until(lambda d: d.find_element(By.ID, "buy").is_enabled(), "the buy button never enabled")
    browser.find_element(By.ID, "buy").click()
    text_in(browser, "#order-status", "created", timeout=20)
    text_in(browser, "#order-status", "cancelled", timeout=20)
    text_in(browser, ".message", "payment time ran out")
    shot("order-cancelled")
