"""Erasure under a real gunicorn with two workers: nothing of the erased person is left in any file under instance/."""

import base64
import copy
import json
import mailbox
import re
import secrets
import threading
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.gunicorn import GunicornServer
from tests.support.http_client import Browser

pytestmark = pytest.mark.slow

ACCESS_LINK = re.compile(r"https?://[^\s]+(/my-data/open/[^\s]+)")


def visitor_id_of(cookie: str) -> str:
    """The id inside a signed visitor cookie (its payload is readable; only the signature is secret)."""
    payload = cookie.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def files_holding(instance: Path, trace: str) -> list[str]:
    needle = trace.encode()
    files = [path for path in instance.rglob("*") if path.is_file()]
    return sorted(str(path.relative_to(instance)) for path in files if needle in path.read_bytes())


def access_path(instance: Path, email: str) -> str:
    for _key, stored in mailbox.Maildir(instance / "outbox", create=False).items():
        message = message_from_bytes(stored.as_bytes(), policy=policy.default)
        if message["To"] == email and message["Subject"] == "Your data: your link":
            return ACCESS_LINK.search(message.get_body(("plain",)).get_content()).group(1)
    raise AssertionError("no access link in the outbox")


def visits_with(database: str, visitor_id: str) -> list[tuple]:
    engine = create_engine(database)
    with engine.connect() as conn:
        found = conn.execute(text("SELECT visitor_id, query FROM visit WHERE visitor_id = :v"), {"v": visitor_id}).all()
    engine.dispose()
    return found


def visit_of_query(database: str, query: str):
    engine = create_engine(database)
    with engine.connect() as conn:
        found = conn.execute(text("SELECT visitor_id FROM visit WHERE query = :q"), {"q": query}).all()
    engine.dispose()
    return found


@pytest.fixture
def server(database, instance_path, tmp_path):
    settings = {
        "SQLALCHEMY_DATABASE_URI": database,
        "RDNS_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        # Rows stay in each worker's spool until the server stops: the erasure must reach them there.
        "VISIT_FLUSH_INTERVAL": 600,
        "VISIT_FLUSH_MAX_INTERVAL": 600,
    }
    server = GunicornServer(instance_path, settings, workers=2)
    server.log = tmp_path / "gunicorn.log"  # the operator's log (journald) is not the shop's instance folder
    server.start()
    yield server
    server.kill()


def test_after_erasure_no_file_under_instance_holds_the_person(server, database, instance_path):
    tag = secrets.token_hex(4)
    email, name = f"erin.{tag}@example.org", f"Erin Quill{tag}"
    search, message, post = f"zebraphone{tag}", f"Please ship to Mars{tag} soon.", f"Lovely cables{tag}!"
    browser = Browser(server.url)
    browser.submit("/", {"next": "/", "choice": "accept"}, action="/consent")
    visitor_cookie = browser.cookie("visitor")
    visitor_id = visitor_id_of(visitor_cookie)
    kept = [copy.copy(cookie) for cookie in browser.jar]

    def browse(n):
        for i in range(6):
            browser.get(f"/search?q={search}&page={n}{i}")

    def spooled_by_workers() -> int:
        return len([f for f in files_holding(instance_path, visitor_id) if f.startswith("visit-spool/")])

    # Concurrent requests until both workers hold some of this visitor's rows in their spools
    # (the kernel decides which worker accepts a connection; a few rounds at most).
    for _ in range(20):
        threads = [threading.Thread(target=browse, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if spooled_by_workers() >= 2:
            break
    browser.submit("/contact", {"name": name, "email": email, "subject": "Shipping", "message": message})
    browser.submit("/board", {"display_name": name, "email": email, "message": post})
    browser.submit("/newsletter", {"email": email, "topics": ["offers"]})
    traces = {"email": email, "name": name, "search": search, "message": message, "post": post, "visitor": visitor_id}
    spools = files_holding(instance_path, visitor_id)
    assert len([f for f in spools if f.startswith("visit-spool/")]) >= 2, spools  # both workers spooled visits
    # PostgreSQL keeps its files elsewhere: under instance/ only the spool and the outbox hold the person.
    on_disk = traces if database.startswith("sqlite") else {k: traces[k] for k in ("email", "search", "visitor")}
    for label, trace in on_disk.items():
        assert files_holding(instance_path, trace), f"the {label} is not on disk before erasure: the search is blind"

    browser.submit("/my-data", {"email": email}, action="/my-data/link")
    url, _html = browser.submit(access_path(instance_path, email), {})
    assert url.endswith("/my-data/email")
    url, html = browser.submit("/my-data/email", {"confirm": "y"}, action="/my-data/email/erase")
    assert url.endswith("/my-data/erased") and "Erased:" in html
    assert visitor_id_of(browser.cookie("visitor")) != visitor_id  # this browser got a new id

    for label, trace in traces.items():
        assert files_holding(instance_path, trace) == [], f"the erased {label} is still on disk while serving"

    # A copy of the old cookies still carries the erased id: it is recorded without it.
    stale = Browser(server.url)
    for cookie in kept:
        stale.jar.set_cookie(cookie)
    probe = f"probe={tag}"
    stale.get(f"/?{probe}")
    assert stale.cookie("visitor") != visitor_cookie  # given a new id instead
    assert files_holding(instance_path, visitor_id) == []

    server.stop()  # every worker stores what it spooled
    assert server.process.returncode == 0
    assert visits_with(database, visitor_id) == []
    [(recorded_id,)] = visit_of_query(database, probe)
    assert recorded_id and recorded_id != visitor_id
    for label, trace in traces.items():
        assert files_holding(instance_path, trace) == [], f"the erased {label} is on disk after the workers stopped"
    log = server.log.read_text()
    assert "Traceback" not in log
