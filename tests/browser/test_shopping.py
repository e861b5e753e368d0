"""A shopper goes from the home page to an order number in real Chromium."""

import http.client
import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def shop_and_check_out(page, base):
    page.goto(base + "/")
    page.get_by_role("link", name=re.compile("Aurora X1 Phone")).first.click()
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator(".flash-success")).to_contain_text("Added Aurora X1 Phone")
    page.goto(base + "/product/tidal-buds")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator(".cart-link .count")).to_have_text("3")
    rows = page.locator(".cart-table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator(".cart-table .total")).to_have_text("€1,427.00")

    page.get_by_role("link", name="Check out").click()
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#name-error")).to_have_text("Enter your name.")
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Shipping address").fill("1 Analytical Engine Way, London")
    page.get_by_label(re.compile("share")).check()
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("heading", name=re.compile("order placed"))).to_be_visible()
    number = page.locator(".order-number").inner_text()
    assert re.fullmatch(r"WS-[0-9A-F]{12}", number)
    expect(page.locator(".cart-link .count")).to_have_text("0")
    return number


def test_banner_then_cart_then_order_with_javascript(live_server, page):
    page.goto(live_server.url + "/")
    banner = page.get_by_role("region", name="How this shop uses your information")
    expect(banner).to_be_visible()
    expect(banner.get_by_role("link", name="Read the privacy policy")).to_have_attribute("href", "/privacy")
    url_before = page.url
    banner.get_by_role("button", name="Accept", exact=True).click()
    expect(banner).to_have_count(0)
    assert page.url == url_before  # closed in place, no navigation
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["consent"]["httpOnly"] and cookies["consent"]["sameSite"] == "Lax"
    page.reload()
    expect(page.locator("#consent-banner")).to_have_count(0)

    number = shop_and_check_out(page, live_server.url)
    with live_server.app.app_context():
        from webshop.db import db
        from webshop.models import Order

        order = db.session.execute(db.select(Order).where(Order.number == number)).scalar_one()
        assert order.total_cents == 2 * 64900 + 12900
        assert order.submission.no_share is True
        assert order.submission.no_marketing is False


def test_banner_and_checkout_without_javascript(live_server, new_page):
    page = new_page(java_script_enabled=False)
    page.goto(live_server.url + "/category/audio")
    page.get_by_role("button", name="Accept", exact=True).click()
    # Without JavaScript the form posts and comes back to the same page.
    assert page.url == live_server.url + "/category/audio"
    expect(page.locator("#consent-banner")).to_have_count(0)
    shop_and_check_out(page, live_server.url)


def test_banner_is_reachable_and_dismissable_by_keyboard(live_server, page):
    page.goto(live_server.url + "/")
    page.keyboard.press("Tab")  # skip link
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert "privacy policy" in focused.lower()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "your data"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Accept"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Decline"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#consent-banner")).to_have_count(0)
    page.keyboard.press("Tab")  # focus moves on into the page: no trap
    assert page.evaluate("document.activeElement.closest('#consent-banner')") is None


def refusing_cookies(route):
    """Behave like a browser set to refuse cookies: no Set-Cookie is ever stored.

    The request goes out through http.client, outside the browser's cookie
    jar, and comes back without its Set-Cookie headers.
    """
    request = route.request
    url = urlsplit(request.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    path = url.path + ("?" + url.query if url.query else "")
    connection.request(request.method, path, body=request.post_data_buffer, headers=request.headers)
    response = connection.getresponse()
    headers = {k: v for k, v in response.getheaders() if k.lower() != "set-cookie"}
    route.fulfill(status=response.status, headers=headers, body=response.read())
    connection.close()


def test_shop_says_plainly_what_needs_cookies_when_they_are_refused(live_server, new_page):
    page = new_page()
    page.route("**/*", refusing_cookies)
    page.goto(live_server.url + "/product/boom-cube")  # browsing works
    expect(page.get_by_role("heading", name="Boom Cube Speaker")).to_be_visible()
    page.get_by_role("button", name="Add to cart").click()
    expect(page.get_by_role("heading", name="Cookies needed for forms")).to_be_visible()
    expect(page.locator("main")).to_contain_text("the cart lives in the cart cookie")
    expect(page.locator(".cart-link .count")).to_have_text("0")
