"""Log lines carry no live token or order number, and no input can forge a line.

Every line the shop writes passes the same redaction as the access line,
the 503 and 500 paths included; values are escaped the way Apache escapes
``%r``. These tests read what the real log handler writes.
"""

import io
import json
import logging
import re
import sqlite3
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests.support.forms import FORMS, outbox, send
from tests.support.pages import csrf_token_from, submit
from webshop.db import db
from webshop.models import Order, Subscription, Visit
from webshop.visits import flush

JANE = "jane@example.org"
LINK = re.compile(r"https?://[^\s>]+")
ORDER = next(case for case in FORMS if case.kind == "order")
NEWSLETTER = next(case for case in FORMS if case.kind == "newsletter")


@contextmanager
def log_output():
    """What the shop's own log handler writes meanwhile (its real filters and format)."""
    [handler] = [h for h in logging.getLogger("webshop").handlers if isinstance(h, logging.StreamHandler)]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


@contextmanager
def locked(database):
    """Another connection holds SQLite's write lock."""
    holder = sqlite3.connect(database.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def mailed_path(app, subject: str, prefix: str) -> str:
    [entry] = [m for m in outbox(app) if m.subject == subject]
    return next(urlsplit(link).path for link in LINK.findall(entry.text) if urlsplit(link).path.startswith(prefix))


def access_link(client, app) -> str:
    assert submit(client, "/my-data", {"email": JANE}, action="/my-data/link").status_code == 303
    return mailed_path(app, "Your data: your link", "/my-data/open/")


def newsletter_confirm(client, app) -> str:
    assert send(client, app, NEWSLETTER, email=JANE).status_code == 303
    return mailed_path(app, "Please confirm your newsletter subscription", "/newsletter/confirm/")


def newsletter_unsubscribe(client, app) -> str:
    assert send(client, app, NEWSLETTER, email=JANE).status_code == 303
    with app.app_context():
        token = db.session.execute(select(Subscription.unsubscribe_token)).scalar_one()
    return f"/newsletter/unsubscribe/{token}"


# --- Tokens during an outage ---------------------------------------------------------------------------


@pytest.mark.only_database("sqlite")
@pytest.mark.parametrize("link", [access_link, newsletter_confirm, newsletter_unsubscribe], ids=lambda f: f.__name__)
def test_a_link_pressed_while_the_database_is_locked_leaves_no_live_token_in_the_log(app, client, database, link):
    app.config["SQLITE_BUSY_TIMEOUT_MS"] = 100
    path = link(client, app)
    token = path.rsplit("/", 1)[1]
    page = client.get(path)
    assert page.status_code == 200
    form = {"csrf_token": csrf_token_from(page.get_data(as_text=True))}
    with log_output() as output, locked(database):
        response = client.post(path, data=form)
    assert response.status_code == 503
    written = output.getvalue()
    assert "database unavailable (503) on POST" in written and "[redacted]" in written
    assert token not in written
    assert token.rsplit(".", 1)[-1] not in written  # not even the signature
    # The token was still live: whoever read it from the log could have used it.
    assert client.post(path, data=form).status_code in (200, 303)


def test_an_error_carrying_a_token_keeps_it_out_of_the_message_and_the_traceback(app, client):
    from webshop.signing import serializer

    @app.get("/fault/<value>")
    def fault(value):
        raise RuntimeError(f"could not use {value} for {JANE}")

    with app.test_request_context():
        token = serializer("my-data").dumps({"link": 7, "nonce": "9f86d081884c7d659a2feaa0c55ad015"})
    with log_output() as output:
        response = client.get(f"/fault/{token}")
    assert response.status_code == 500
    written = output.getvalue()
    assert "unhandled error on GET /fault/[redacted]" in written
    assert "RuntimeError: could not use [redacted] for j***@example.org" in written
    assert token not in written and JANE not in written


# --- Order numbers -------------------------------------------------------------------------------------


def test_order_numbers_are_redacted_in_visits_exports_and_the_log(app, client, runner):
    with log_output() as output:
        assert send(client, app, ORDER, email=JANE).status_code == 303
        with app.app_context():
            number = db.session.execute(select(Order.number)).scalar_one()
        order_page = f"/order/{number}"
        assert client.get(order_page).status_code == 200
        client.get("/", headers={"Referer": f"http://localhost{order_page}?from=mail"})
        client.get(f"/search?q={number}")
    flush(app)
    with app.app_context():
        visits = db.session.execute(select(Visit)).scalars().all()
        stored = " ".join(f"{v.path} {v.query} {v.referrer}" for v in visits)
    assert "/order/[redacted]" in stored and number not in stored
    combined = runner.invoke(args=["visits", "export", "--format", "combined"]).output
    as_json = runner.invoke(args=["visits", "export", "--format", "json"]).output
    assert "/order/[redacted]" in combined and number not in combined and number not in as_json
    written = output.getvalue()
    assert "GET /order/[redacted] 200" in written and number not in written


# --- Forged lines --------------------------------------------------------------------------------------

FORGED = "2026-12-02 03:00:00,000 INFO webshop.access: 203.0.113.9 203.0.113.9 GET /admin/ 200 1.0ms"


def forging_request(client):
    return client.get(
        "/search%0a" + FORGED.replace(" ", "%20") + "%0d%0a?q=x",
        # As a WSGI server may pass them on: the test client refuses line breaks in headers.
        environ_base={"HTTP_USER_AGENT": f"Agent\r\n{FORGED}", "HTTP_REFERER": f"http://localhost/\n{FORGED}"},
    )


def test_a_line_break_in_the_path_or_headers_writes_exactly_one_access_line(client):
    with log_output() as output:
        response = forging_request(client)
    assert response.status_code == 404
    lines = output.getvalue().splitlines()
    assert len(lines) == 1, lines
    [line] = lines
    assert "webshop.access" in line and "/search\\n2026-12-02" in line and "\\r\\n?q=x" in line
    assert not any(line.startswith("2026-12-02 03:00:00") for line in lines)


class TestJsonLog:
    @pytest.fixture
    def app_config(self):
        return {"LOG_FORMAT": "json"}

    def test_each_request_is_one_json_line_whatever_the_path_holds(self, client):
        with log_output() as output:
            forging_request(client)
        [line] = output.getvalue().splitlines()
        entry = json.loads(line)
        assert entry["logger"] == "webshop.access" and entry["path"].startswith("/search\n")


def test_escapes_follow_apache():
    from webshop.visits.redact import escape_log_item

    assert escape_log_item('GET /a"b\\c\x1b[31m\u202e') == 'GET /a\\"b\\\\c\\x1b[31m\\xe2\\x80\\xae'
