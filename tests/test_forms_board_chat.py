"""Bulletin board and chat: shown to everyone, escaped, emails never shown; chat polls as JSON."""

import pytest

from tests.support.forms import FORMS, send, submissions
from tests.support.pages import hidden_fields
from webshop.db import db
from webshop.models import BoardPost, ChatMessage, ProductRegistration

BY_KIND = {case.kind: case for case in FORMS}
HOSTILE = [
    '<script>alert("x")</script>',
    '" onmouseover="alert(1)" x="',
    "<img src=x onerror=alert(1)>",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_board_posts_are_escaped(client, app, text):
    send(client, app, BY_KIND["board"], display_name=text[:40], message=text)
    page = client.get("/board").get_data(as_text=True)
    assert text not in page
    assert "<script>alert" not in page and "<img src=x" not in page
    assert 'onmouseover="alert' not in page
    assert "&lt;" in page or "&#34;" in page


def test_board_never_shows_the_email_and_lists_newest_first(client, app):
    send(client, app, BY_KIND["board"], message="first post")
    send(client, app, BY_KIND["board"], message="second post")
    page = client.get("/board").get_data(as_text=True)
    assert "jane@example.org" not in page
    assert page.index("second post") < page.index("first post")


def test_board_is_paginated_and_hidden_posts_are_not_shown(client, app):
    for number in range(23):
        send(client, app, BY_KIND["board"], message=f"post number {number:02d}")
    with app.app_context():
        post = db.session.execute(db.select(BoardPost).where(BoardPost.body == "post number 22")).scalar_one()
        post.hidden = True
        db.session.commit()
    first = client.get("/board").get_data(as_text=True)
    second = client.get("/board?page=2").get_data(as_text=True)
    assert "post number 22" not in first + second
    assert first.count('class="post"') == 20 and second.count('class="post"') == 2
    assert "post number 21" in first and "post number 00" in second
    assert 'href="/board?page=2"' in first
    for odd in ["0", "-3", "abc", "99999999999999999999"]:
        assert client.get(f"/board?page={odd}").status_code == 200


@pytest.mark.parametrize("text", HOSTILE)
def test_chat_messages_are_escaped_in_the_page_and_plain_text_in_json(client, app, text):
    send(client, app, BY_KIND["chat"], display_name=text[:40], message=text)
    page = client.get("/chat").get_data(as_text=True)
    assert text not in page and "<script>alert" not in page and 'onmouseover="alert' not in page
    [message] = client.get("/chat/messages").get_json()["messages"]
    assert message["body"] == text  # JSON carries text; chat.js writes it with textContent


def test_chat_script_writes_text_never_html():
    from pathlib import Path

    import webshop

    script = (Path(webshop.__file__).parent / "static" / "chat.js").read_text()
    assert "textContent" in script
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script


def test_chat_page_loads_its_script_without_inline_javascript(client):
    page = client.get("/chat").get_data(as_text=True)
    assert '<script src="/static/chat.js" defer></script>' in page
    assert "<script>" not in page and " onclick=" not in page and " onsubmit=" not in page


def test_chat_poll_returns_only_newer_visible_messages(client, app):
    for text in ["one", "two", "three"]:
        send(client, app, BY_KIND["chat"], message=text)
    messages = client.get("/chat/messages").get_json()["messages"]
    assert [m["body"] for m in messages] == ["one", "two", "three"]
    after = client.get(f"/chat/messages?after={messages[0]['id']}").get_json()["messages"]
    assert [m["body"] for m in after] == ["two", "three"]
    with app.app_context():
        db.session.get(ChatMessage, messages[1]["id"]).hidden = True
        db.session.commit()
    assert [m["body"] for m in client.get("/chat/messages").get_json()["messages"]] == ["one", "three"]
    for odd in ["-1", "x", "99999999999999999999999"]:
        assert client.get(f"/chat/messages?after={odd}").status_code == 200
    response = client.get("/chat/messages")
    assert response.headers["Cache-Control"] == "no-store"
    assert "jane@example.org" not in response.get_data(as_text=True)


def test_chat_background_post_answers_json_with_the_receipt(client, app):
    page = client.get("/chat").get_data(as_text=True)
    headers = {"X-Requested-With": "fetch"}
    data = {**hidden_fields(page), "display_name": "Jane", "message": "hi from js"}
    response = client.post("/chat", data=data, headers=headers)
    assert response.status_code == 201
    body = response.get_json()
    [submission] = submissions(app, "chat")
    assert body["message"]["body"] == "hi from js"
    assert body["receipt_url"] == f"/receipt/{submission.receipt_id}"
    data["submission_token"] = body["submission_token"]  # the next message's, as chat.js keeps it
    bad = client.post("/chat", data={**data, "message": ""}, headers=headers)
    assert bad.status_code == 400 and bad.get_json()["errors"] == {"message": "Write a message."}


def test_chat_without_javascript_returns_to_the_room_with_a_receipt_link(client, app):
    response = send(client, app, BY_KIND["chat"])
    assert response.status_code == 303 and response.headers["Location"].startswith("/chat")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    [submission] = submissions(app, "chat")
    assert f'href="/receipt/{submission.receipt_id}"' in page
    assert "Hello, room!" in page


def test_registration_keeps_product_serial_and_date(client, app):
    send(client, app, BY_KIND["registration"], serial_number="ab-99 x1")
    with app.app_context():
        [registration] = db.session.execute(db.select(ProductRegistration)).scalars().all()
        assert registration.product.slug == "hush-anc"
        assert registration.serial_number == "AB-99 X1"
        assert registration.submission.fields["product"] == "Hush ANC Headphones"


def test_registration_offers_only_active_products(client, app):
    from webshop.models import Product

    with app.app_context():
        product = db.session.execute(db.select(Product).where(Product.slug == "hush-anc")).scalar_one()
        product.active = False
        db.session.commit()
        product_id = product.id
    page = client.get("/register").get_data(as_text=True)
    assert "Hush ANC Headphones" not in page
    response = send(client, app, BY_KIND["registration"], product=str(product_id))
    assert response.status_code == 200 and "Choose a product from the list." in response.get_data(as_text=True)


def test_survey_answers_are_stored_for_staff(client, app):
    send(client, app, BY_KIND["survey"], email="")
    [submission] = submissions(app, "survey")
    assert submission.email is None
    assert submission.fields == {
        "rating": 4,
        "shopped_for": ["audio", "cameras"],
        "found_us": "friend",
        "improve": "More cables in stock.",
    }


def test_a_chat_poll_is_a_bounded_page_in_utf8_and_the_client_can_fetch_the_rest(client, app):
    """100 posts of 500 emoji: each poll stays small, says where the rest is, and sends raw UTF-8."""
    tokens = hidden_fields(client.get("/chat").get_data(as_text=True))
    emoji = "😀"
    for number in range(100):
        data = {**tokens, "display_name": f"Jane {emoji}", "message": f"{number:03d}" + emoji * 497}
        sent = client.post("/chat", data=data, headers={"X-Requested-With": "fetch"})
        assert sent.status_code == 201
        tokens["submission_token"] = sent.get_json()["submission_token"]
    url, seen, polls = "/chat/messages?after=0", [], 0
    while True:
        response = client.get(url)
        raw = response.get_data()
        assert response.status_code == 200 and response.mimetype == "application/json"
        assert len(raw) <= 64 * 1024  # 100 such messages as \uXXXX escapes were over 600 KB in one poll
        assert emoji.encode() in raw and b"\\ud83d" not in raw
        body = response.get_json()
        assert 0 < len(body["messages"]) <= 20
        seen += [int(message["body"][:3]) for message in body["messages"]]
        polls += 1
        if not body["more"]:
            break
        url = body["next"]
        assert url == f"/chat/messages?after={body['messages'][-1]['id']}"
    assert seen == list(range(100)) and polls == 5
    last = client.get(body["next"]).get_json()
    assert last["messages"] == [] and last["more"] is False


def test_chat_script_fetches_the_next_page_at_once():
    from pathlib import Path

    import webshop

    script = (Path(webshop.__file__).parent / "static" / "chat.js").read_text()
    assert "if (data.more) delay = 0" in script and 'createElement("bdi")' in script
