"""Faults under load: a worker killed with SIGKILL, the database stopped and started again.

Both run the soak workload (``bench/soak.py``) against a real gunicorn, and
the unit tests below pin the 503 page itself: an unreachable PostgreSQL and
a locked SQLite file both answer "Temporarily unavailable" with
``Retry-After``, never a 500.
"""

import os
import signal
import sqlite3
import time

import pytest

from bench.soak import Browser, Load, count_visits, server_settings, soak, stored_submissions
from tests.support.apps import TEST_KEY, build_schema
from tests.support.forms import FORMS, send
from tests.support.gunicorn import GunicornServer
from tests.support.ports import free_port
from tests.support.postgres import PostgresServer
from webshop import create_app

pytestmark = [pytest.mark.soak, pytest.mark.slow]

NEEDS_DATABASE = ("/", "/product/hush-anc", "/search?q=cable", "/board", "/chat/messages")
WITHOUT_DATABASE = ("/.well-known/gpc.json", "/static/shop.css")
NEWSLETTER = next(case for case in FORMS if case.kind == "newsletter")


def wait_for(condition, timeout: float = 20, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"still not true after {timeout} s")


# --- SIGKILL a worker mid-load ----------------------------------------------------------------


@pytest.mark.only_database("sqlite")
def test_a_worker_killed_mid_load_is_replaced_and_loses_nothing_answered(database, instance_path):
    seen = {}

    def kill_a_worker(server, load):
        before = set(server.worker_pids())
        victim = sorted(before)[0]
        os.kill(victim, signal.SIGKILL)
        seen["victim"] = victim
        seen["killed_at"] = time.monotonic()
        seen["replacement"] = wait_for(lambda: set(server.worker_pids()) - before)
        seen["workers_after"] = set(server.worker_pids())

    report = soak(database, instance_path, seconds=8, clients=4, workers=3, during=kill_a_worker)
    print(report.summary())
    print(f"killed worker {seen['victim']}, replaced by {sorted(seen['replacement'])}")
    tally = report.tally

    # gunicorn replaced the worker and the service went on.
    assert seen["replacement"] and seen["victim"] not in seen["workers_after"]
    assert len(seen["workers_after"]) == 3
    after_kill = [e for e in tally.between(seen["killed_at"] + 1, float("inf")) if e[3] is not None]
    assert after_kill and all(status in (200, 201, 303) for *_, status in after_kill)
    assert report.returncode == 0

    # Only the requests in flight in the killed worker failed, and nothing
    # was answered with an error.
    assert tally.server_errors == 0
    assert tally.failed + len(tally.cut_off) <= 1  # no answer, or one cut off as the worker died sending it
    # Every answered request has its row (the killed worker's spool was
    # stored by another), none twice; a request that died in flight may have
    # its row, since the row is spooled before the answer is sent.
    assert tally.answered_recorded <= report.rows_recorded <= tally.answered_recorded + tally.failed
    assert report.missing == []
    assert report.integrity == "ok"


# --- PostgreSQL stopped mid-load -------------------------------------------------------------


@pytest.fixture
def own_postgres(tmp_path):
    """A PostgreSQL cluster of this test's own: it is stopped and started again."""
    server = PostgresServer()
    server.start()
    server.admin("CREATE DATABASE outage")
    build_schema(server.url("outage"), tmp_path / "schema")
    yield server
    server.remove()


def test_postgresql_outage_answers_503_and_service_resumes_by_itself(own_postgres, tmp_path):
    uri = own_postgres.url("outage")
    server = GunicornServer(tmp_path / "instance", server_settings(uri), workers=3).start()
    try:
        workers = set(server.worker_pids())
        load = Load(server.url, uri, clients=3).start()
        # This test's own requests are counted with the load's, so rows can be matched to answers.
        probe = Browser("127.0.0.1", server.port, "127.0.0.250", load.tally)
        time.sleep(2)

        own_postgres.stop()
        down = time.monotonic()
        time.sleep(2)  # the load keeps coming while the database is away
        during = {path: probe.request("GET", path) for path in (*NEEDS_DATABASE, *WITHOUT_DATABASE, "/healthz")}
        alive = server.process.poll() is None and set(server.worker_pids()) == workers

        own_postgres.resume()
        up = time.monotonic()
        recovered_after = wait_for(lambda: probe.request("GET", "/").status == 200 and time.monotonic() - up)
        time.sleep(2)
        tally = load.stop()
        server.stop()
    finally:
        server.kill()
    print(f"503 during the outage: {tally.statuses[503]}, home page back {recovered_after:.2f} s after restart")

    # While it was down: a clear 503 with Retry-After where the database is needed ...
    for path in NEEDS_DATABASE:
        answer = during[path]
        assert answer.status == 503, path
        assert answer.headers["Retry-After"].isdigit() and "Temporarily unavailable" in answer.text
    assert during["/healthz"].status == 503
    # ... and the pages that do not need it still work.
    assert all(during[path].status == 200 for path in WITHOUT_DATABASE)
    outage = tally.between(down, up)
    # What needs no database, or was answered before the stop, still succeeded; the rest was a 503.
    assert outage and all(status < 400 or status == 503 for *_, status in outage)
    assert sum(status == 503 for *_, status in outage) > 0

    # Nothing crashed: same master, same workers, never a 500 or a dropped connection.
    assert alive and server.process.returncode == 0
    log = server.log.read_text()
    other_errors = [event for event in tally.events if event[3] is not None and event[3] >= 500 and event[3] != 503]
    assert not other_errors and tally.failed == 0, (other_errors, log[log.find("Traceback") - 500 :][:6000])

    # Service resumed by itself, and everything after it was served normally.
    assert recovered_after < 15
    after = tally.between(up + recovered_after + 0.5, float("inf"))
    assert after and {status for *_, status in after} <= {200, 201, 303}

    # Visit rows spooled during the outage were stored once it returned: one per answer, 503s included.
    assert count_visits(uri) == tally.answered_recorded
    receipts, orders = stored_submissions(uri)
    assert set(tally.receipts) <= set(receipts) and tally.orders <= orders

    assert "database unavailable (503)" in log
    assert "unhandled error" not in log and "Error handling request" not in log  # no 500 of ours or gunicorn's


# --- The 503 page itself -----------------------------------------------------------------------


def test_an_unreachable_postgresql_answers_503_not_500(tmp_path, caplog):
    uri = f"postgresql+psycopg://shop:not-a-real-password@127.0.0.1:{free_port()}/nowhere"
    app = create_app(
        {"TESTING": True, "SECRET_KEY": TEST_KEY, "SQLALCHEMY_DATABASE_URI": uri, "VISITS_ENABLED": False},
        instance_path=str(tmp_path / "instance"),
    )
    client = app.test_client()
    response = client.get("/")
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert "Temporarily unavailable" in response.get_data(as_text=True)
    assert client.get("/.well-known/gpc.json").status_code == 200
    assert "database unavailable (503)" in caplog.text
    assert "not-a-real-password" not in caplog.text
    with app.app_context():
        from webshop.db import db

        db.engine.dispose()


@pytest.mark.only_database("sqlite")
def test_a_locked_sqlite_database_answers_503_and_keeps_what_was_typed_out_of_the_log(app, client, database, caplog):
    app.config["SQLITE_BUSY_TIMEOUT_MS"] = 100
    holder = sqlite3.connect(database.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # holds the write lock
    try:
        response = send(client, app, NEWSLETTER, email="locked-out@example.org")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 503
    assert "Retry-After" in response.headers
    assert "Temporarily unavailable" in response.get_data(as_text=True)
    assert "database is locked" in caplog.text
    assert "locked-out@example.org" not in caplog.text

    assert send(client, app, NEWSLETTER, email="locked-out@example.org").status_code == 303  # and then it works


def test_a_mistake_in_a_sqlite_statement_is_not_taken_for_an_outage():
    from sqlalchemy import exc

    from webshop.outage import database_unavailable

    locked = exc.OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))
    no_table = exc.OperationalError("SELECT ...", {}, sqlite3.OperationalError("no such table: nowhere"))
    assert database_unavailable(locked)
    assert not database_unavailable(no_table)  # a bug: stays a 500, logged with its traceback
