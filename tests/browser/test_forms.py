"""Forms end to end in real Chromium: fill, get an error, fix it, see the consent receipt."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_contact_form_to_its_consent_receipt(live_server, page):
    page.goto(live_server.url + "/contact")
    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("Your email").fill("ada@example")
    page.get_by_label("Subject").fill("Engines")
    page.get_by_label("Message").fill("Do you stock difference engines?")
    page.get_by_label(re.compile("share")).check()
    page.get_by_role("button", name="Send message").click()
    expect(page.locator("#email-error")).to_be_visible()
    expect(page.get_by_label("Message")).to_have_value("Do you stock difference engines?")
    expect(page.get_by_label(re.compile("share"))).to_be_checked()

    page.get_by_label("Your email").fill("ada@example.org")
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_role("heading", name="Message sent")).to_be_visible()
    page.get_by_role("link", name="view your consent receipt").click()

    expect(page.get_by_role("heading", name="Consent receipt", exact=True)).to_be_visible()
    expect(page.locator("#choice-share")).to_contain_text("no")
    expect(page.locator("#choice-share")).to_contain_text("you opted out")
    expect(page.locator("#choice-marketing")).to_contain_text("yes")
    expect(page.locator(".recorded-ip")).to_have_text("127.0.0.0/24")
    expect(page.locator("#receipt-principal")).to_have_text("ada@example.org")  # whom it is about, as given


def test_newsletter_double_opt_in_in_the_browser(live_server, page):
    from webshop.mail import outbox_messages

    page.goto(live_server.url + "/newsletter")
    page.get_by_label("Email").fill("grace@example.org")
    page.get_by_label("Buying guides").check()
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    with live_server.app.app_context():
        [mail] = outbox_messages()
    link = re.search(r"http://\S+/newsletter/confirm/\S+", mail.text).group(0)
    page.goto(link)
    page.get_by_role("button", name="Confirm my subscription").click()
    expect(page.get_by_role("heading", name="You are subscribed")).to_be_visible()
    expect(page.get_by_text("Buying guides")).to_be_visible()
