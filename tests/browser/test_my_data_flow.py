"""A visitor sends two forms, opens "your data" from the mailed link, downloads it and erases it, in Chromium."""

import json
import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from webshop.mail import outbox_messages

pytestmark = pytest.mark.browser

EMAIL = "grace@example.org"


def link_in_outbox(live_server, subject: str) -> str:
    with live_server.app.app_context():
        [entry] = [m for m in outbox_messages() if m.to == EMAIL and m.subject == subject]
        url = re.search(r"https?://\S+/my-data/open/\S+", entry.text).group(0)
    return live_server.url + urlsplit(url).path


def test_from_forms_to_the_mailed_link_to_download_and_erasure(live_server, page, tmp_path):
    base = live_server.url
    page.goto(base + "/")
    page.get_by_role("button", name="Accept", exact=True).click()
    expect(page.locator("#consent-banner")).to_have_count(0)

    page.goto(base + "/contact")
    page.get_by_label("Name").fill("Grace Hopper")
    page.get_by_label("Your email").fill(EMAIL)
    page.get_by_label("Subject").fill("Compilers")
    page.get_by_label("Message").fill("Do you stock COBOL manuals?")
    page.get_by_role("button", name="Send message").click()
    page.goto(base + "/board")
    page.get_by_label("Display name").fill("Amazing Grace")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Message").fill("Found a bug in my relay.")
    page.get_by_label(re.compile("share")).check()
    page.get_by_role("button", name=re.compile("Post")).click()
    page.goto(base + "/board")
    expect(page.get_by_text("Found a bug in my relay.")).to_be_visible()

    page.get_by_role("link", name="Your data").click()
    expect(page.locator("#current-ip")).to_have_text("127.0.0.1")
    expect(page.locator("#cookie-consent")).to_contain_text("the current version")
    expect(page.locator("#cookie-session")).to_contain_text("not shown")
    page.get_by_role("textbox", name="Your email address").fill(EMAIL)
    page.get_by_role("button", name="Send me the link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

    page.goto(link_in_outbox(live_server, "Your data: your link"))
    page.get_by_role("button", name="Open my data").click()
    expect(page.locator("#held-email")).to_have_text(EMAIL)
    records = page.locator("article.record")
    expect(records).to_have_count(2)
    expect(page.locator('[data-kind="contact"]')).to_contain_text("Do you stock COBOL manuals?")
    expect(page.locator('[data-kind="board"] .choices')).to_contain_text("sharing: no")
    expect(page.locator('[data-kind="contact"]')).to_contain_text("IP address 127.0.0.1")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download everything (JSON)").click()
    path = tmp_path / "my-data.json"
    download.value.save_as(path)
    document = json.loads(path.read_text())
    assert download.value.suggested_filename == "my-data.json"
    assert {s["kind"] for s in document["submissions"]} == {"contact", "board"}
    assert all(s["receipt"]["consentReceiptID"] for s in document["submissions"])

    page.get_by_role("button", name="Erase my data").click()
    expect(page.locator("#confirm-error")).to_contain_text("Tick the box")
    page.get_by_label(re.compile("I understand")).check()
    page.get_by_role("button", name="Erase my data").click()
    expect(page.get_by_role("heading", name="Your data is erased")).to_be_visible()
    expect(page.locator(".flash-success")).to_contain_text("Erased: 2 submissions")

    page.goto(base + "/board")
    expect(page.get_by_text("Found a bug in my relay.")).to_have_count(0)
    page.goto(base + "/my-data/email")
    expect(page.get_by_role("textbox", name="Your email address")).to_be_visible()  # access ended with the data
