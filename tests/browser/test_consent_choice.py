"""Choice both ways in Chromium: decline on the banner, change of mind on "your data", and forgetting a browser."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots/consent")


def cookie_names(page) -> set[str]:
    return {cookie["name"] for cookie in page.context.cookies()}


def shoot(new_page, url, name, prepare=None):
    """Screenshots at a phone's and a desktop's width; the page never scrolls sideways."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (375, 1280):
        page = new_page(viewport={"width": width, "height": 900})
        page.goto(url)
        if prepare:
            prepare(page)
        assert page.evaluate("document.documentElement.scrollWidth") == width
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)


def test_decline_then_switch_to_accept_on_your_data(live_server, page):
    base = live_server.url
    page.goto(base + "/")
    banner = page.locator("#consent-banner")
    accept = banner.get_by_role("button", name="Accept", exact=True)
    decline = banner.get_by_role("button", name="Decline", exact=True)
    assert accept.bounding_box()["height"] == decline.bounding_box()["height"]
    assert accept.evaluate("e => getComputedStyle(e).backgroundColor") == decline.evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    decline.click()
    expect(banner).to_have_count(0)
    assert "visitor" not in cookie_names(page) and "consent" in cookie_names(page)

    page.goto(base + "/my-data")
    expect(page.locator("#my-data-current-choice")).to_contain_text("declined")
    expect(page.locator("#consent-log")).to_contain_text("declined")
    expect(page.locator("#consent-log-unlinked")).to_be_visible()
    page.get_by_role("button", name="Switch to accept").click()
    expect(page).to_have_url(re.compile(r"/my-data#choice$"))
    assert "visitor" in cookie_names(page)
    expect(page.locator("#my-data-current-choice")).to_contain_text("accepted")
    log = page.locator("#consent-log")
    expect(log).to_contain_text("declined")
    expect(log).to_contain_text("accepted")
    expect(page.locator("#current-visitor")).not_to_have_text("none")


def test_forget_this_browser_end_to_end(live_server, page):
    base = live_server.url
    page.goto(base + "/")
    page.get_by_role("button", name="Accept", exact=True).click()
    expect(page.locator("#consent-banner")).to_have_count(0)
    page.goto(base + "/board")
    page.get_by_label("Display name").fill("Forget Me Fiona")
    page.get_by_label("Email").fill("fiona@example.org")
    page.get_by_label("Message").fill("A post to be forgotten.")
    page.get_by_role("button", name=re.compile("Post")).click()
    page.goto(base + "/board")
    expect(page.get_by_text("A post to be forgotten.")).to_be_visible()
    page.goto(base + "/my-data")
    page.get_by_role("button", name="Forget this browser…").click()
    expect(page.get_by_role("heading", name="Forget this browser")).to_be_visible()
    expect(page.locator("#forget-preview")).to_contain_text("1 submission")
    assert "visitor" in cookie_names(page)  # nothing changed yet
    page.get_by_role("button", name="Yes, erase everything linked to this browser").click()
    expect(page.get_by_role("heading", name="This browser is forgotten")).to_be_visible()
    expect(page.locator(".flash-success")).to_contain_text("1 submission")
    assert not cookie_names(page) & {"visitor", "consent", "cart"}
    expect(page.locator("#consent-banner")).to_be_visible()
    page.goto(base + "/board")
    expect(page.get_by_text("A post to be forgotten.")).to_have_count(0)


def test_screenshots_of_the_banner_your_data_and_the_forget_confirmation(live_server, new_page):
    base = live_server.url
    shoot(new_page, base + "/", "banner")

    def accepted(page):
        page.get_by_role("button", name="Accept", exact=True).click()
        expect(page.locator("#consent-banner")).to_have_count(0)
        page.goto(base + "/my-data#choice")

    def accepted_sections(page):
        accepted(page)
        width = page.viewport_size["width"]
        for section in ("choice", "forget"):
            page.locator(f"#{section}").screenshot(path=str(SHOTS / f"my-data-{section}-{width}.png"))

    shoot(new_page, base + "/", "my-data", accepted_sections)

    def confirming(page):
        accepted(page)
        page.get_by_role("button", name="Forget this browser…").click()
        expect(page.get_by_role("heading", name="Forget this browser")).to_be_visible()

    shoot(new_page, base + "/", "forget-confirm", confirming)

    def policy_choice(page):
        accepted(page)
        page.goto(base + "/privacy#consent")
        width = page.viewport_size["width"]
        page.locator("#consent").screenshot(path=str(SHOTS / f"privacy-consent-{width}.png"))

    shoot(new_page, base + "/", "privacy", policy_choice)
