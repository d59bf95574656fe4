"""The admin's pages in headless Chromium against the real API and workers, with a shopper in a second tab
(a tab of its own has its own sessionStorage, so its own token)."""

from __future__ import annotations

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.conftest import PHONE
from tests.browser.pages import admin_sign_in, content_in, fill, find, low_contrast, order_id_of, sign_up, text_in, wait
from tests.browser.test_storefront import orders_of, session_token
from tests.pipeline.harness import Running, wait_until
from tests.support import make_sale


def _buy_enabled(driver: WebDriver) -> bool:
    return bool(driver.find_element(By.ID, "buy").is_enabled())


def test_the_admin_creates_and_preheats_a_sale_and_a_shopper_buys_from_it(
    system: Running, browser: WebDriver, shot
) -> None:
    admin_tab = browser.current_window_handle
    admin_sign_in(browser, system.base, system.world.token("ops", admin=True))
    assert "token" not in browser.current_url
    text_in(browser, "#who", "ops (admin)")
    fill(browser, "#commodity-name", "Lamp")
    fill(browser, "#commodity-price", "40")
    find(browser, "#new-commodity button").click()
    text_in(browser, ".message", "Commodity “Lamp” created")
    text_in(browser, "#sale-commodity", "Lamp ($40.00)")
    fill(browser, "#sale-name", "Lamp launch")
    fill(browser, "#sale-price", "19.99")
    fill(browser, "#sale-stock", "5")
    fill(browser, "#sale-limit", "2")
    shot("new-sale")
    find(browser, "#new-sale button").click()
    text_in(browser, "h1", "Lamp launch")
    text_in(browser, "#admin-preheated", "no")
    find(browser, "#preheat").click()
    text_in(browser, ".message", "Preheated: 5 in the cache")
    text_in(browser, "#admin-preheated", "yes")
    text_in(browser, "#admin-stock-left", "5 of 5")
    sale_id = browser.current_url.rsplit("/", 1)[1]
    shot("sale-preheated")

    browser.switch_to.new_window("tab")
    sign_up(browser, system.base)
    browser.get(f"{system.base}/#/sale/{sale_id}")
    text_in(browser, "h1", "Lamp launch")
    wait(browser).until(_buy_enabled, "the buy button never enabled")
    find(browser, "#buy").click()
    text_in(browser, "#order-status", "created", timeout=20)
    text_in(browser, "#order-detail", "1 at $19.99 each: $19.99")
    find(browser, "#pay").click()
    text_in(browser, "#order-status", "paid")
    order_id = order_id_of(browser)
    assert [o["status"] for o in orders_of(system, session_token(browser), sale_id)] == ["paid"]

    # The admin's panel saw it live, and finds the order by its id.
    browser.switch_to.window(admin_tab)
    text_in(browser, "#admin-stock-left", "4 of 5")
    text_in(browser, "#admin-ordered", "1")
    text_in(browser, "#admin-log", "1 unit ordered")
    fill(browser, "#order-id", order_id)
    find(browser, "#find-order button").click()
    text_in(browser, "#order-found", "paid")
    shot("sale-live")


def test_the_admin_pauses_resumes_and_changes_stock_and_the_shopper_sees_it(
    system: Running, browser: WebDriver, shot
) -> None:
    with system.client() as c:
        sale = make_sale(c, system.world, stock=6)
    admin_tab = browser.current_window_handle
    admin_sign_in(browser, system.base, system.world.token("ops", admin=True))
    browser.get(f"{system.base}/#/admin/sale/{sale['id']}")
    text_in(browser, "#admin-stock-left", "6 of 6")
    find(browser, "#pause").click()
    text_in(browser, ".message", "Paused.")
    text_in(browser, "#pause", "Resume")
    text_in(browser, "#admin-status", "paused")

    browser.switch_to.new_window("tab")
    shopper_tab = browser.current_window_handle
    sign_up(browser, system.base)
    browser.get(f"{system.base}/#/sale/{sale['id']}")
    content_in(browser, "#sale-status", "paused")
    wait(browser).until(_buy_enabled, "the buy button never enabled")
    find(browser, "#buy").click()
    text_in(browser, ".message", "The sale is paused")
    shot("item-paused")
    assert orders_of(system, session_token(browser), sale["id"]) == []

    browser.switch_to.window(admin_tab)
    find(browser, "#pause").click()
    text_in(browser, ".message", "Resumed.")
    fill(browser, "#new-stock", "9")
    find(browser, "#change-stock button").click()
    text_in(browser, ".message", "Stock set to 9; 9 left.")
    text_in(browser, "#admin-stock-left", "9 of 9")
    text_in(browser, "#admin-log", "stock set to 9")
    shot("sale-changed")

    browser.switch_to.window(shopper_tab)
    browser.get(f"{system.base}/#/sales")
    text_in(browser, f'li[data-sale="{sale["id"]}"]', "9 of 9 left")
    browser.get(f"{system.base}/#/sale/{sale['id']}")
    text_in(browser, "#stock-left", "9 of 9 left")
    content_in(browser, "#sale-status", "active")
    wait(browser).until(_buy_enabled, "the buy button never enabled")
    find(browser, "#buy").click()
    text_in(browser, "#order-status", "created", timeout=20)


def test_the_quantity_picker_buys_two_once_and_the_order_can_be_cancelled(
    system: Running, browser: WebDriver, shot
) -> None:
    with system.client() as c:
        sale = make_sale(c, system.world, stock=10, per_user_limit=3, price_cents=250)
    sign_up(browser, system.base)
    browser.get(f"{system.base}/#/sale/{sale['id']}")
    quantity = find(browser, "#quantity")
    assert quantity.get_attribute("max") == "3"
    fill(browser, "#quantity", "4")  # over the limit per person: refused on the page, nothing sent
    wait(browser).until(_buy_enabled, "the buy button never enabled")
    find(browser, "#buy").click()
    text_in(browser, ".message", "Choose a quantity from 1 to 3")
    fill(browser, "#quantity", "2")
    shot("item-quantity")
    ActionChains(browser).double_click(find(browser, "#buy")).perform()
    text_in(browser, "#order-status", "created", timeout=20)
    text_in(browser, "#order-detail", "2 at $2.50 each: $5.00")
    orders = orders_of(system, session_token(browser), sale["id"])
    assert [(o["quantity"], o["amount_cents"]) for o in orders] == [(2, 500)]
    with system.client() as c:
        assert c.get(f"/api/v1/sales/{sale['id']}").json()["stock_left"] == 8
    shot("order-quantity-2")
    find(browser, "#cancel").click()
    text_in(browser, "#order-status", "cancelled")
    text_in(browser, ".message", "the stock went back on sale")
    assert not browser.find_element(By.ID, "pay").is_displayed()
    assert not browser.find_element(By.ID, "cancel").is_displayed()
    orders = orders_of(system, session_token(browser), sale["id"])
    assert [(o["status"], o["cancel_reason"]) for o in orders] == [("cancelled", "user")]
    with system.client() as c:
        wait_until(lambda: c.get(f"/api/v1/sales/{sale['id']}").json()["stock_left"] == 10, 10, "the units back")
    shot("order-cancelled")


def test_the_admin_pages_fit_a_phone(system: Running, browser: WebDriver, shot) -> None:
    with system.client() as c:
        sale = make_sale(c, system.world, stock=3, per_user_limit=2)
    browser.set_window_size(*PHONE)

    def fits(name: str) -> None:
        overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the {name} page scrolls sideways by {overflow}px at phone width"
        assert low_contrast(browser) == [], f"text on the {name} page below WCAG AA contrast"
        shot(name)

    # A shopper's token is refused on the admin page, before the server is asked; the keyboard alone signs in.
    browser.get(f"{system.base}/#/admin")
    fill(browser, "#admin-token", system.world.token("someone") + Keys.ENTER)
    text_in(browser, ".message", "a shopper's, not an admin's")
    fits("admin-sign-in")
    fill(browser, "#admin-token", system.world.token("ops", admin=True) + Keys.ENTER)
    find(browser, "#new-commodity")
    wait(browser).until(lambda d: d.switch_to.active_element.get_attribute("id") == "view", "no focus on the page")
    fits("admin")
    browser.get(f"{system.base}/#/admin/sale/{sale['id']}")
    text_in(browser, "#admin-stock-left", "3 of 3")
    fits("admin-sale")
    browser.switch_to.new_window("tab")
    sign_up(browser, system.base)
    browser.get(f"{system.base}/#/sale/{sale['id']}")
    find(browser, "#quantity")
    fits("item")
    wait(browser).until(_buy_enabled, "the buy button never enabled")
    find(browser, "#buy").click()
    text_in(browser, "#order-status", "created", timeout=20)
    find(browser, "#cancel")
    fits("order")
