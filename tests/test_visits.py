"""Visit recording in the app: one row per request, blocking signals, client IPs, CLI, logs."""

import json
import logging
import re
import subprocess
import sys
import textwrap
from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select

from tests.support.visits import recorded
from webshop import signing
from webshop.cookies import serializer
from webshop.db import db
from webshop.models import Visit, utcnow
from webshop.policy_text import POLICY_VERSION
from webshop.visits import flush
from webshop.visits.cli import escape_log_item
from webshop.visits.writer import store_rows

# Apache combined log format, strictly: %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"
QUOTED = r'"((?:[^"\\\x00-\x1f\x7f-\xff]|\\["\\bnrtv]|\\x[0-9a-f]{2})*)"'
COMBINED_RE = re.compile(
    r"^(?P<host>[^\s\"]+) - - \[(?P<time>\d{2}/(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}"
    r":\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    + QUOTED.replace("(", "(?P<request>", 1)
    + r" (?P<status>\d{3}) (?P<size>\d+|-) "
    + QUOTED.replace("(", "(?P<referrer>", 1)
    + " "
    + QUOTED.replace("(", "(?P<agent>", 1)
    + "$"
)
REQUEST_LINE_RE = re.compile(r"^[A-Z]+ \S+ HTTP/\d\.\d$")


def consent_cookie(client, app):
    """The cookie the banner's "OK" sets, set without a request (which would be a visit of its own)."""
    with app.app_context():
        client.set_cookie("consent", serializer("consent").dumps(POLICY_VERSION))


def test_each_page_request_records_one_row_with_what_was_asked(app, client):
    client.get(
        "/search?q=cable",
        headers={"User-Agent": "TestBrowser/1.0", "Referer": "http://localhost/"},
    )
    client.get("/no-such-page")
    [search, missing] = recorded(app)
    assert (search.method, search.path, search.query, search.status) == ("GET", "/search", "q=cable", 200)
    assert search.ip == "127.0.0.1"
    assert search.user_agent == "TestBrowser/1.0"
    assert search.referrer == "http://localhost/"
    assert search.response_ms >= 0 and search.response_bytes > 0
    assert search.blocking_signal is False
    assert (missing.path, missing.status) == ("/no-such-page", 404)


def test_static_files_and_health_checks_are_not_recorded(app, client):
    with client.get("/static/shop.css") as static:
        assert static.status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json == {"status": "ok"}
    assert recorded(app) == []


def test_long_user_agent_and_referrer_are_cut_to_fit(app, client):
    client.get("/", headers={"User-Agent": "A" * 5000, "Referer": "http://x.example/" + "p" * 5000})
    [visit] = recorded(app)
    assert len(visit.user_agent) == 512
    assert len(visit.referrer) == 1024


def test_a_view_that_raises_still_records_its_visit_as_500(app, client):
    @app.get("/explode")
    def explode():
        raise RuntimeError("view failed")

    assert client.get("/explode").status_code == 500
    [visit] = recorded(app)
    assert (visit.path, visit.status, visit.ip) == ("/explode", 500, "127.0.0.1")


def test_a_request_rejected_before_any_view_is_recorded(app, client):
    response = client.post("/consent", data={"next": "/"})  # no CSRF token
    assert response.status_code == 400
    [visit] = recorded(app)
    assert (visit.method, visit.path, visit.status) == ("POST", "/consent", 400)


def test_well_known_gpc_json(app, client):
    """The served file, as a GPC-aware client reads it: exactly the two members, and a real past date."""
    for headers in ({}, {"Sec-GPC": "1"}):
        response = client.get("/.well-known/gpc.json", headers=headers)
        assert response.status_code == 200
        assert response.mimetype == "application/json"
        body = json.loads(response.get_data(as_text=True))
        assert set(body) == {"gpc", "lastUpdate"}
        assert body["gpc"] is True
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", body["lastUpdate"])
        assert date.fromisoformat(body["lastUpdate"]) <= utcnow().date()
        assert "Set-Cookie" not in response.headers


BLOCKING = [
    [("Sec-GPC", "1")],
    [("DNT", "1")],
    [("Sec-GPC", " 1 ")],
    [("Sec-GPC", "0"), ("Sec-GPC", "1")],
    [("Sec-GPC", "0, 1")],
    [("DNT", "0"), ("Sec-GPC", "1")],
]
NOT_BLOCKING = [
    [],
    [("Sec-GPC", "0")],
    [("Sec-GPC", "true")],
    [("Sec-GPC", "yes")],
    [("Sec-GPC", "11")],
    [("DNT", "0")],
    [("DNT", "null")],
]


@pytest.mark.parametrize("headers", BLOCKING)
def test_blocking_signal_leaves_no_ip_domain_or_visitor_id(app, client, headers):
    consent_cookie(client, app)
    response = client.get("/", headers=headers)
    assert "visitor=" not in " ".join(response.headers.getlist("Set-Cookie"))
    [visit] = recorded(app)
    assert visit.blocking_signal is True
    assert (visit.ip, visit.domain, visit.visitor_id) == (None, None, None)
    assert visit.path == "/" and visit.status == 200


@pytest.mark.parametrize("headers", NOT_BLOCKING)
def test_other_signal_values_are_ignored(app, client, headers):
    consent_cookie(client, app)
    response = client.get("/", headers=headers)
    assert "visitor=" in " ".join(response.headers.getlist("Set-Cookie"))
    [visit] = recorded(app)
    assert visit.blocking_signal is False
    assert visit.ip == "127.0.0.1"
    assert visit.visitor_id


def test_visitor_id_links_visits_only_after_the_banner_is_acknowledged(app, client):
    client.get("/")
    consent_cookie(client, app)
    client.get("/")
    client.get("/cart")
    first, second, third = recorded(app)
    assert first.visitor_id is None
    assert second.visitor_id and second.visitor_id == third.visitor_id


def test_forged_forwarded_for_is_never_the_recorded_ip_by_default(app, client):
    client.get(
        "/",
        headers={
            "X-Forwarded-For": "203.0.113.9",
            "X-Real-IP": "203.0.113.9",
            "Forwarded": "for=203.0.113.9",
        },
        environ_base={"REMOTE_ADDR": "192.0.2.10"},
    )
    [visit] = recorded(app)
    assert visit.ip == "192.0.2.10"


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": 1}])
def test_with_one_trusted_proxy_the_address_it_forwards_is_recorded(app, client):
    client.get(
        "/",
        headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    [visit] = recorded(app)
    assert visit.ip == "203.0.113.9"  # the proxy's own entry; the client-written one is ignored


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": 1}])
@pytest.mark.parametrize("forwarded", ["1.2.3.4:5555", "<script>alert(1)</script>", "garbage", "999.1.1.1", "::g"])
def test_malformed_forwarded_address_is_stored_as_unknown_and_logged(app, client, caplog, forwarded):
    with caplog.at_level(logging.WARNING, logger="webshop"):
        response = client.get("/", headers={"X-Forwarded-For": forwarded}, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert response.status_code == 200
    [visit] = recorded(app)
    assert visit.ip is None
    assert any("not a valid IP" in record.getMessage() for record in caplog.records)


def test_ipv4_mapped_ipv6_is_stored_as_ipv4(app, client):
    client.get("/", environ_base={"REMOTE_ADDR": "::ffff:192.0.2.7"})
    [visit] = recorded(app)
    assert visit.ip == "192.0.2.7"


# -- purge and export ----------------------------------------------------------


def add_visits(app, *rows):
    base = {
        "domain": None,
        "domain_confirmed": False,
        "method": "GET",
        "path": "/",
        "query": "",
        "protocol": "HTTP/1.1",
        "status": 200,
        "response_bytes": 100,
        "response_ms": 1.0,
        "user_agent": "UA",
        "referrer": None,
        "visitor_id": None,
        "blocking_signal": False,
        "ip": "192.0.2.1",
    }
    store_rows(app, [{**base, "uid": f"{index:032x}", **row} for index, row in enumerate(rows)])


def test_stored_times_read_back_exactly_and_filter_like_orm_values(app):
    """The writer hands rows to the driver directly; the staff filters and purge query them through the ORM."""
    whole_second = utcnow().replace(microsecond=0)
    moments = [whole_second, whole_second + timedelta(microseconds=7), whole_second + timedelta(seconds=1)]
    add_visits(app, *({"time": moment, "path": f"/at{n}"} for n, moment in enumerate(moments)))
    assert [visit.time for visit in recorded(app)] == moments
    with app.app_context():

        def paths_where(condition):
            return list(db.session.scalars(db.select(Visit.path).where(condition).order_by(Visit.time)))

        assert paths_where(Visit.time >= whole_second) == ["/at0", "/at1", "/at2"]
        assert paths_where(Visit.time > whole_second) == ["/at1", "/at2"]


def test_purge_removes_visits_older_than_the_retention_period(app, runner):
    now = utcnow()
    add_visits(app, {"time": now - timedelta(days=200)}, {"time": now - timedelta(days=91)}, {"time": now})
    result = runner.invoke(args=["visits", "purge"])
    assert result.exit_code == 0, result.output
    assert "Deleted 2 visits older than 90 days" in result.output
    assert len(recorded(app)) == 1
    result = runner.invoke(args=["visits", "purge", "--older-than", "0"])
    assert "Deleted 1 visits" in result.output
    assert recorded(app) == []


def test_purge_of_more_visits_than_one_batch_deletes_them_all_a_batch_per_transaction(app, runner, monkeypatch):
    """The shop goes on writing while a purge runs: no transaction of the purge deletes more than a batch."""
    monkeypatch.setattr("webshop.visits.cli.DELETE_BATCH", 2)
    now = utcnow()
    add_visits(app, *({"time": now - timedelta(days=100, minutes=n)} for n in range(5)), {"time": now})
    deleted_per_commit, pending = [], []
    with app.app_context():
        engine = db.engine

    def count_deletes(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("DELETE FROM VISIT "):  # not the daily figures
            pending.append(cursor.rowcount)

    def on_commit(conn):
        if pending:
            deleted_per_commit.append(sum(pending))
            pending.clear()

    event.listen(engine, "after_cursor_execute", count_deletes)
    event.listen(engine, "commit", on_commit)
    try:
        result = runner.invoke(args=["visits", "purge"])
    finally:
        event.remove(engine, "after_cursor_execute", count_deletes)
        event.remove(engine, "commit", on_commit)
    assert result.exit_code == 0, result.output
    assert "Deleted 5 visits older than 90 days" in result.output
    assert [visit.time for visit in recorded(app)] == [now]
    assert deleted_per_commit == [2, 2, 1]


def test_purge_waits_after_each_batch_outside_any_transaction(app, runner, monkeypatch):
    """A large purge leaves the shop room: after each committed batch it waits, holding no lock."""
    monkeypatch.setattr("webshop.visits.cli.DELETE_BATCH", 2)
    now = utcnow()
    add_visits(app, *({"time": now - timedelta(days=100, minutes=n)} for n in range(5)), {"time": now})
    pauses = []

    def noted(seconds):
        purge_in_transaction = db.session().in_transaction()  # the purge's own session
        with app.app_context():  # another session: what the shop sees meanwhile
            pauses.append((seconds, purge_in_transaction, db.session.scalar(select(func.count(Visit.id)))))

    monkeypatch.setattr("webshop.visits.cli.pause", noted)
    result = runner.invoke(args=["visits", "purge"])
    assert result.exit_code == 0, result.output
    deletions = [left for _, _, left in pauses][:3]
    assert deletions == [4, 2, 1]  # a pause after each of the three batches, each batch already committed
    assert not any(open_transaction for _, open_transaction, _ in pauses)  # no lock is held while it waits


def test_export_combined_lines_parse_as_apache_combined_format(app, client, runner):
    client.get(
        "/search?q=a+b",
        environ_base={"HTTP_USER_AGENT": 'Evil "Agent"\\\n\x07', "HTTP_REFERER": "http://ref.example/p"},
    )
    client.get("/no-such-page", headers={"User-Agent": "Ünïcode/1.0"})
    client.get("/", headers={"Sec-GPC": "1"})
    result = runner.invoke(args=["visits", "export", "--format", "combined"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 3
    matches = [COMBINED_RE.match(line) for line in lines]
    assert all(matches), lines
    first, second, third = matches
    assert first["host"] == "127.0.0.1"
    assert first["request"] == "GET /search?q=a+b HTTP/1.1"
    assert first["status"] == "200" and int(first["size"]) > 0
    assert first["referrer"] == "http://ref.example/p"
    assert first["agent"] == 'Evil \\"Agent\\"\\\\\\n\\x07'
    assert second["status"] == "404" and second["referrer"] == "-"
    assert second["agent"] == "\\xc3\\x9cn\\xc3\\xafcode/1.0"
    assert third["host"] == "0.0.0.0"  # a blocking signal leaves no address
    assert all(REQUEST_LINE_RE.match(m["request"]) for m in matches)


def test_escape_log_item_matches_apache():
    assert escape_log_item(None) == "-"
    assert escape_log_item("") == "-"
    assert escape_log_item('a"b\\c') == 'a\\"b\\\\c'
    assert escape_log_item("\t\n\r\x0b\x08\x00\x7f") == "\\t\\n\\r\\v\\b\\x00\\x7f"


def test_export_filters_by_time_and_writes_json_lines_to_a_file(app, runner, tmp_path):
    now = utcnow().replace(microsecond=0)
    add_visits(
        app,
        {"time": now - timedelta(days=3), "path": "/old"},
        {"time": now - timedelta(days=1), "path": "/recent"},
        {"time": now, "path": "/today"},
    )
    target = tmp_path / "visits.jsonl"
    since = (now - timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    until = now.strftime("%Y-%m-%dT%H:%M:%S")
    result = runner.invoke(
        args=["visits", "export", "--format", "json", "--since", since, "--until", until, "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert [row["path"] for row in rows] == ["/recent"]
    assert rows[0]["ip"] == "192.0.2.1" and rows[0]["status"] == 200


def test_export_hostnames_uses_confirmed_domains_only(app, runner):
    now = utcnow()
    add_visits(
        app,
        {"time": now, "ip": "192.0.2.1", "domain": "good.example", "domain_confirmed": True},
        {"time": now, "ip": "192.0.2.2", "domain": "claimed.example", "domain_confirmed": False},
        {"time": now, "ip": "192.0.2.3"},
    )

    def hosts(*options):
        output = runner.invoke(args=["visits", "export", *options]).output
        return [line.split(" ")[0] for line in output.splitlines()]

    assert hosts("--hostnames") == ["good.example", "192.0.2.2", "192.0.2.3"]
    assert hosts() == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]


# -- durability without a server ---------------------------------------------------

KILLED_WORKER = textwrap.dedent(
    """
    import os, signal, sys
    from webshop import create_app
    app = create_app(
        {"SECRET_KEY": sys.argv[3], "SQLALCHEMY_DATABASE_URI": sys.argv[1], "RDNS_ENABLED": False,
         "VISIT_FLUSH_INTERVAL": 3600},
        instance_path=sys.argv[2],
    )
    client = app.test_client()
    for n in range(25):
        assert client.get(f"/cart?n={n}").status_code == 200
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_rows_of_a_killed_process_are_stored_by_the_next_one(app, database, instance_path, runner):
    """SIGKILL before any batch reached the database: the spool still holds every row."""
    process = subprocess.run(
        [sys.executable, "-c", KILLED_WORKER, database, str(instance_path), app.config["SECRET_KEY"]],
        capture_output=True,
        timeout=60,
    )
    assert process.returncode == -9, process.stderr.decode()
    assert recorded(app) == []  # nothing reached the database before the kill
    result = runner.invoke(args=["visits", "export", "--format", "json"])
    assert result.exit_code == 0, result.output
    queries = sorted(json.loads(line)["query"] for line in result.output.splitlines())
    assert queries == sorted(f"n={n}" for n in range(25))
    assert not list((instance_path / "visit-spool").glob("*.jsonl"))
    runner.invoke(args=["visits", "export"])  # a second replay adds nothing
    assert len(recorded(app)) == 25


# -- logging -------------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"LOG_FORMAT": "json"}])
def test_access_lines_carry_the_request_and_no_secrets(app, client, caplog):
    from webshop.logs import JsonFormatter

    with app.app_context():
        signed = signing.serializer("my-data").dumps({"email": "alice@example.org"})
        cart_cookie = serializer("cart").dumps([[1, 2]])
    email = "alice.secret@example.org"
    client.set_cookie("cart", cart_cookie)
    with caplog.at_level(logging.INFO, logger="webshop"):
        client.get(f"/my-data/{signed}")
        client.get(f"/newsletter/confirm?token={signed}&email={email}")
        client.get(f"/search?q={email}", headers={"Referer": f"http://localhost/my-data/{signed}?e={email}"})
        client.get("/unsubscribe?t=" + "Zx9" * 15)
        client.get("/", headers={"Authorization": "Bearer sekrit-bearer-token"})
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    access = [json.loads(line) for line in lines if '"webshop.access"' in line]
    assert len(access) == 5
    assert access[2]["path"] == "/search" and access[2]["status"] == 200
    assert access[2]["ip"] == "127.0.0.1"
    exported = "\n".join(app.test_cli_runner().invoke(args=["visits", "export"]).output.splitlines())
    for text in [*lines, exported]:
        secrets = (signed, email, "alice@example.org", cart_cookie, "Zx9" * 15, "sekrit")
        secrets += (app.config["SECRET_KEY"],)
        for secret in secrets:
            assert secret not in text
        assert not re.search(r"[A-Za-z0-9._%+-]{2,}@[A-Za-z0-9.-]+\.[a-z]{2,}", text), text


@pytest.mark.only_database("postgresql")
def test_a_row_the_database_refuses_is_set_aside_and_the_rest_are_stored(app, client, instance_path, caplog):
    client.get("/search?q=before")
    flush(app)
    [good] = recorded(app)
    with app.app_context():
        row = {c: getattr(good, c) for c in Visit.__table__.columns.keys() if c != "id"}
    bad = {**row, "uid": "b" * 32, "status": 10**6}  # no smallint holds it
    fine = {**row, "uid": "f" * 32, "path": "/after"}
    with caplog.at_level(logging.ERROR, logger="webshop.visits.writer"):
        store_rows(app, [bad, fine])
    paths = [v.path for v in recorded(app)]
    assert paths == ["/search", "/after"]
    rejected = (instance_path / "visit-spool" / "rejected.jsonl").read_text().splitlines()
    assert [json.loads(line)["uid"] for line in rejected] == ["b" * 32]
    assert "set aside" in caplog.text


@pytest.mark.only_database("sqlite")
def test_large_export_shows_progress_on_a_terminal(app, database, instance_path, tmp_path):
    """Run the real CLI with its stderr on a pseudo-terminal, as an operator would see it."""
    import os
    import pty

    now = utcnow()
    add_visits(app, *({"time": now, "path": f"/p{n}"} for n in range(10_500)))
    target = tmp_path / "access.log"
    controller, terminal = pty.openpty()
    env = {**os.environ, "FLASK_SQLALCHEMY_DATABASE_URI": database, "FLASK_SECRET_KEY": app.config["SECRET_KEY"]}
    app_arg = f"webshop:create_app(instance_path={str(instance_path)!r})"
    command = ["visits", "export", "--format", "combined", "-o", str(target)]
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", app_arg, *command],
        stderr=terminal,
        stdout=subprocess.DEVNULL,
        env=env,
    )
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed: the command is done
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert process.wait(timeout=60) == 0, shown.decode(errors="replace")
    assert b"Exporting visits" in shown and b"100%" in shown
    lines = target.read_text().splitlines()
    assert len(lines) == 10_500 and all(COMBINED_RE.match(line) for line in lines[:50])
