"""A personal-information form is stored once each time it is filled in, however often it is sent.

Every form's page carries a signed, single-use token (webshop.submissions).
Sending the same filled-in form again, because its answer was lost on the
way (a worker killed after its commit, a proxy's 502), because the person
reloads, or twice at once, stores nothing more and is answered with the
first submission's confirmation. A token that is missing, altered, signed
for something else, too old or issued to another browser stores nothing and
keeps what was typed; a used one sent from another browser shows it nothing
of the first submission.
"""

import threading
import time
from contextlib import contextmanager
from types import SimpleNamespace

import itsdangerous.timed
import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import event

from tests.support.cart import add_to_cart
from tests.support.forms import FORM_IDS, FORMS, form_data, outbox, submissions
from tests.support.pages import csrf_token_from, hidden_fields
from webshop.db import db
from webshop.models import BoardPost, ChatMessage, Order, ProductRegistration
from webshop.signing import serializer
from webshop.submissions import ALREADY_RECEIVED_MESSAGE, TOKEN_REFUSED_MESSAGE, issue_submission_token

# The rows besides the submission each form adds, once per submission.
ROWS_BESIDE = {"board": BoardPost, "chat": ChatMessage, "order": Order, "registration": ProductRegistration}
BROWSER_COOKIES = ("session", "cart", "consent", "visitor")


def filled_in(client, app, case) -> dict:
    """Open the form's page (with something in the cart for checkout) and fill it in, tokens and all."""
    if case.needs_cart:
        add_to_cart(client, app)
    page = client.get(case.url)
    assert page.status_code == 200
    return {**hidden_fields(page.get_data(as_text=True)), **form_data(app, case)}


@contextmanager
def answer_lost(client):
    """The next answer never reaches the browser: its cookies stay as they were before the request."""
    kept = {name: client.get_cookie(name) for name in BROWSER_COOKIES}
    yield
    for name, cookie in kept.items():
        if cookie is None:
            client.delete_cookie(name)
        else:
            client.set_cookie(name, cookie.value)


def rows_beside(app, case) -> int:
    model = ROWS_BESIDE.get(case.kind)
    if model is None:
        return 0
    with app.app_context():
        return len(db.session.execute(db.select(model)).scalars().all())


def mails_to_jane(app) -> int:
    return len([entry for entry in outbox(app) if entry.to == "jane@example.org"])


def assert_stored_once(app, case):
    assert len(submissions(app, case.kind)) == 1
    assert rows_beside(app, case) == (1 if case.kind in ROWS_BESIDE else 0)
    assert mails_to_jane(app) == 1  # the receipt (or the newsletter's confirmation link), not a second one


@pytest.mark.parametrize("case", FORMS, ids=FORM_IDS)
def test_a_form_sent_again_after_its_answer_was_lost_is_stored_once(client, app, case):
    data = filled_in(client, app, case)
    with answer_lost(client):
        first = client.post(case.url, data=data)
    assert first.status_code == 303, first.get_data(as_text=True)

    again = client.post(case.url, data=data)  # the browser sends the same body again, with the same cookies

    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    assert_stored_once(app, case)
    page = client.get(again.headers["Location"])
    assert page.status_code == 200  # the order's page too: this browser placed it
    assert ALREADY_RECEIVED_MESSAGE in page.get_data(as_text=True)
    if case.needs_cart:
        assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)


@pytest.mark.parametrize("case", FORMS, ids=FORM_IDS)
def test_a_form_sent_again_by_reloading_its_answer_is_stored_once_and_filled_in_again_twice(client, app, case):
    data = filled_in(client, app, case)
    first = client.post(case.url, data=data)
    assert first.status_code == 303, first.get_data(as_text=True)
    client.get(first.headers["Location"])

    again = client.post(case.url, data=data)

    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    assert_stored_once(app, case)
    assert ALREADY_RECEIVED_MESSAGE in client.get(again.headers["Location"]).get_data(as_text=True)
    # Filled in again from its page, it is a second submission.
    assert client.post(case.url, data=filled_in(client, app, case)).status_code == 303
    assert len(submissions(app, case.kind)) == 2


@pytest.mark.parametrize("case", FORMS, ids=FORM_IDS)
def test_two_sends_of_one_form_at_once_store_one_submission(client, app, case):
    """The second send reads no submission yet, then waits on the unique index until the first commits."""
    data = filled_in(client, app, case)
    other = app.test_client()  # the same browser's cookies, on a second connection
    for name in BROWSER_COOKIES:
        if (cookie := client.get_cookie(name)) is not None:
            other.set_cookie(name, cookie.value)
    first_flushed, second_inserting, go_on = threading.Event(), threading.Event(), threading.Event()
    answers = {}

    def hold_first_commit(session):
        if threading.current_thread().name == "first":
            first_flushed.set()
            go_on.wait(10)

    def note_second_insert(conn, cursor, statement, parameters, context, executemany):
        if threading.current_thread().name == "second" and statement.startswith("INSERT INTO submission"):
            second_inserting.set()

    def send(name, browser):
        answers[name] = browser.post(case.url, data=data)

    with app.app_context():
        engine = db.engine
    event.listen(db.session.session_factory.class_, "before_commit", hold_first_commit)
    event.listen(engine, "before_cursor_execute", note_second_insert)
    try:
        first = threading.Thread(target=send, args=("first", client), name="first")
        first.start()
        assert first_flushed.wait(10)
        second = threading.Thread(target=send, args=("second", other), name="second")
        second.start()
        assert second_inserting.wait(10), "the second send never reached its INSERT"
        time.sleep(0.3)  # the second INSERT is waiting on the database
        go_on.set()
        first.join(20)
        second.join(20)
    finally:
        go_on.set()
        event.remove(db.session.session_factory.class_, "before_commit", hold_first_commit)
        event.remove(engine, "before_cursor_execute", note_second_insert)

    assert answers["first"].status_code == 303, answers["first"].get_data(as_text=True)
    assert answers["second"].status_code == 303, answers["second"].get_data(as_text=True)
    assert answers["second"].headers["Location"] == answers["first"].headers["Location"]
    assert_stored_once(app, case)
    assert ALREADY_RECEIVED_MESSAGE in other.get(answers["second"].headers["Location"]).get_data(as_text=True)


def csrf_secret(client) -> str:
    """The raw CSRF secret the browser's session holds, which its form tokens are bound to."""
    with client.session_transaction() as session:
        return session["csrf_token"]


def issued_days_ago(client, days: int, monkeypatch) -> str:
    """A token as the shop issues them to this browser, issued ``days`` ago (in an app context)."""
    real, secret = time.time, csrf_secret(client)  # read at today's time: the session cookie was signed today
    with monkeypatch.context() as patched:
        patched.setattr(itsdangerous.timed, "time", SimpleNamespace(time=lambda: real() - days * 86400))
        return issue_submission_token(secret)


def altered(token: str) -> str:
    return token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")


REFUSED_TOKENS = {
    "missing": lambda client, token, monkeypatch: None,
    "altered": lambda client, token, monkeypatch: altered(token),
    "another key": lambda client, token, monkeypatch: URLSafeTimedSerializer(
        "not the shop's key", salt="webshop.submission"
    ).dumps("a nonce"),
    "signed for another purpose": lambda client, token, monkeypatch: serializer("unsubscribe").dumps(1),
    "two days old": lambda client, token, monkeypatch: issued_days_ago(client, 2, monkeypatch),
    "issued to another browser": lambda client, token, monkeypatch: issue_submission_token("another browser's"),
    "naming no browser": lambda client, token, monkeypatch: serializer("submission").dumps("a nonce"),
}


@pytest.mark.parametrize("refused", REFUSED_TOKENS, ids=list(REFUSED_TOKENS))
@pytest.mark.parametrize("case", FORMS, ids=FORM_IDS)
def test_a_missing_forged_or_old_token_stores_nothing_and_keeps_what_was_typed(client, app, case, refused, monkeypatch):
    data = filled_in(client, app, case)
    with app.app_context():
        data["submission_token"] = REFUSED_TOKENS[refused](client, data.get("submission_token", ""), monkeypatch)
    data = {name: value for name, value in data.items() if value is not None}

    response = client.post(case.url, data={**data, "email": "typed@example.org"})

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert TOKEN_REFUSED_MESSAGE in html.replace("&#39;", "'")
    assert 'value="typed@example.org"' in html
    assert submissions(app) == []
    # The form comes back with a fresh token: sent again as it stands, it is stored.
    fresh = hidden_fields(html)["submission_token"]
    assert fresh != data.get("submission_token")
    assert client.post(case.url, data={**data, "submission_token": fresh}).status_code == 303
    assert len(submissions(app, case.kind)) == 1


@pytest.mark.parametrize("case", FORMS, ids=FORM_IDS)
def test_a_used_token_sent_from_another_browser_is_refused_and_shows_nothing_of_the_first(client, app, case):
    """Another browser with its own session and CSRF token, and the token of a form someone else sent."""
    data = filled_in(client, app, case)
    first = client.post(case.url, data=data)
    assert first.status_code == 303, first.get_data(as_text=True)
    stranger = app.test_client()
    theirs = filled_in(stranger, app, case)  # their own session, CSRF token and, for checkout, cart

    response = stranger.post(
        case.url, data={**theirs, "email": "typed@example.org", "submission_token": data["submission_token"]}
    )

    assert response.status_code == 200  # no redirect to the first submission's confirmation
    html = response.get_data(as_text=True)
    assert TOKEN_REFUSED_MESSAGE in html.replace("&#39;", "'")
    assert 'value="typed@example.org"' in html
    assert first.headers["Location"] not in html and ALREADY_RECEIVED_MESSAGE not in html
    assert_stored_once(app, case)
    if case.needs_cart:  # the order's page is not theirs to open
        assert stranger.get(first.headers["Location"]).status_code == 404
    assert client.get(first.headers["Location"]).status_code == 200
    # Their form comes back with a token of their own: sent as it stands, it is stored.
    fresh = hidden_fields(html)["submission_token"]
    assert stranger.post(case.url, data={**theirs, "submission_token": fresh}).status_code == 303
    assert len(submissions(app, case.kind)) == 2


ORDER = next(case for case in FORMS if case.kind == "order")


def test_a_used_order_token_sent_from_another_browser_with_an_empty_cart_opens_no_order(client, app):
    data = filled_in(client, app, ORDER)
    first = client.post("/checkout", data=data)
    assert first.status_code == 303, first.get_data(as_text=True)
    stranger = app.test_client()
    csrf_token = csrf_token_from(stranger.get("/newsletter").get_data(as_text=True))

    response = stranger.post(
        "/checkout", data={**data, "csrf_token": csrf_token, "submission_token": data["submission_token"]}
    )

    assert response.status_code == 303 and response.headers["Location"] == "/cart"
    assert "Your cart is empty" in stranger.get("/cart").get_data(as_text=True)
    assert stranger.get(first.headers["Location"]).status_code == 404
    assert_stored_once(app, ORDER)


CHAT = next(case for case in FORMS if case.kind == "chat")
BACKGROUND = {"X-Requested-With": "fetch"}


def test_a_chat_message_sent_again_in_the_background_is_shown_once(client, app):
    data = filled_in(client, app, CHAT)
    first = client.post("/chat", data=data, headers=BACKGROUND)
    assert first.status_code == 201
    again = client.post("/chat", data=data, headers=BACKGROUND)
    assert again.status_code == 200 and again.mimetype == "application/json"
    body = again.get_json()
    assert body["message"] == first.get_json()["message"]
    assert body["receipt_url"] == first.get_json()["receipt_url"]
    assert body["already_received"] == ALREADY_RECEIVED_MESSAGE
    assert_stored_once(app, CHAT)
    # Each answer carries the next message's token, as chat.js keeps it.
    following = client.post("/chat", data={**data, "submission_token": body["submission_token"]}, headers=BACKGROUND)
    assert following.status_code == 201 and len(submissions(app, "chat")) == 2


def test_a_chat_message_with_a_forged_token_is_refused_in_the_background_with_a_fresh_one(client, app):
    data = filled_in(client, app, CHAT)
    refused = client.post(
        "/chat", data={**data, "submission_token": altered(data.get("submission_token", ""))}, headers=BACKGROUND
    )
    assert refused.status_code == 400
    body = refused.get_json()
    assert body["errors"] == {"submission_token": TOKEN_REFUSED_MESSAGE}
    assert submissions(app) == []
    sent = client.post("/chat", data={**data, "submission_token": body["submission_token"]}, headers=BACKGROUND)
    assert sent.status_code == 201


def test_the_next_chat_token_a_background_answer_carries_works_only_in_that_browser(client, app):
    data = filled_in(client, app, CHAT)
    sent = client.post("/chat", data=data, headers=BACKGROUND)
    assert sent.status_code == 201
    next_token = sent.get_json()["submission_token"]
    stranger = app.test_client()
    theirs = filled_in(stranger, app, CHAT)

    refused = stranger.post("/chat", data={**theirs, "submission_token": next_token}, headers=BACKGROUND)

    assert refused.status_code == 400
    assert refused.get_json()["errors"] == {"submission_token": TOKEN_REFUSED_MESSAGE}
    assert len(submissions(app, "chat")) == 1
    assert client.post("/chat", data={**data, "submission_token": next_token}, headers=BACKGROUND).status_code == 201
