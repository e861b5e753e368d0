"""The chat room in real Chromium: a message sent in one browser appears in another without reload, once."""

import re

import pytest
from playwright.sync_api import expect

from webshop.db import db
from webshop.models import ChatMessage

pytestmark = pytest.mark.browser


def test_message_from_one_browser_appears_in_another_without_reload(live_server, new_page):
    alice, bob = new_page(), new_page()
    alice.goto(live_server.url + "/chat")
    bob.goto(live_server.url + "/chat")
    bob.evaluate("window.loadedOnce = true")  # gone if the page reloads

    alice.get_by_label("Display name").fill("Alice")
    alice.get_by_label("Message", exact=True).fill('Hello <b>Bob</b> " onmouseover="x')
    alice.get_by_role("button", name="Send").click()
    expect(alice.locator("#chat-status a")).to_have_text("View its consent receipt")

    message = bob.locator(".chat-message").filter(has_text="Alice")
    expect(message).to_have_count(1, timeout=10_000)
    expect(message.locator(".chat-body")).to_have_text('Hello <b>Bob</b> " onmouseover="x')
    assert bob.locator(".chat-body b").count() == 0
    assert bob.evaluate("window.loadedOnce") is True
    expect(alice.locator(".chat-message").filter(has_text="Alice")).to_have_count(1)


def test_chat_validation_error_appears_beside_the_field(live_server, page):
    page.goto(live_server.url + "/chat")
    page.get_by_label("Display name").fill("Alice")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#message-error")).to_have_text("Write a message.")
    expect(page.get_by_label("Display name")).to_have_value("Alice")


def test_chat_works_without_javascript(live_server, new_page):
    page = new_page(java_script_enabled=False)
    page.goto(live_server.url + "/chat")
    page.get_by_label("Display name").fill("NoScript")
    page.get_by_label("Message", exact=True).fill("sent by reload")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".chat-message").filter(has_text="sent by reload")).to_have_count(1)
    expect(page.get_by_role("link", name="View its consent receipt")).to_have_attribute(
        "href", re.compile(r"^/receipt/[0-9a-f-]{36}$")
    )


def test_a_message_sent_twice_at_once_is_shown_and_stored_once_and_the_next_goes_without_reload(live_server, page):
    """A double press sends one form twice: one message; each answer brings the token the next message needs."""
    posts = []
    page.on("response", lambda response: posts.append(response.status) if response.request.method == "POST" else None)
    page.goto(live_server.url + "/chat")
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads
    page.get_by_label("Display name").fill("Alice")
    page.get_by_label("Message", exact=True).fill("pressed twice")
    page.evaluate(
        "() => { const form = document.getElementById('chat-form'); form.requestSubmit(); form.requestSubmit(); }"
    )
    for _ in range(200):
        if len(posts) >= 2:
            break
        page.wait_for_timeout(50)
    assert sorted(posts) == [200, 201]  # the second send was answered with the message already stored

    page.get_by_label("Message", exact=True).fill("sent next")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".chat-message").filter(has_text="sent next")).to_have_count(1)
    expect(page.locator(".chat-message").filter(has_text="pressed twice")).to_have_count(1)
    assert posts[2:] == [201]
    assert page.evaluate("window.loadedOnce") is True
    with live_server.app.app_context():
        bodies = db.session.execute(db.select(ChatMessage.body).order_by(ChatMessage.id)).scalars().all()
    assert bodies == ["pressed twice", "sent next"]
