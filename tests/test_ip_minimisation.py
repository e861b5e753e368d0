"""IP minimisation: full addresses are kept IP_RETENTION_DAYS, then cut to their network (IPv4 /24, IPv6 /48)."""

import json
import shutil
import subprocess
import uuid
from datetime import timedelta

import pytest

from tests.support.dns import wait_for_lookup
from tests.support.forms import sign_up, submissions
from tests.support.pages import element_text
from tests.support.visits import recorded
from webshop.db import db
from webshop.models import Submission, Subscription, utcnow
from webshop.policy_text import POLICY_VERSION
from webshop.visits.writer import store_rows

GOACCESS = shutil.which("goaccess")
VISIT = {
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
}


def add_visits(app, *rows):
    store_rows(app, [{**VISIT, "uid": uuid.uuid4().hex, **row} for row in rows])


def add_submissions(app, *rows):
    with app.app_context():
        for index, row in enumerate(rows):
            db.session.add(
                Submission(
                    receipt_id=f"r-{index:08d}",
                    kind="survey",
                    email=f"p{index}@example.org",
                    fields={},
                    policy_version=POLICY_VERSION,
                    **row,
                )
            )
        db.session.commit()


def stored(app, model, column):
    with app.app_context():
        return list(db.session.scalars(db.select(column).order_by(model.id)))


def purge(runner):
    result = runner.invoke(args=["visits", "purge"])
    assert result.exit_code == 0, result.output
    return result.output


def test_purge_shortens_addresses_older_than_the_ip_retention_period_and_keeps_newer_ones(app, runner):
    now = utcnow()
    old, recent = now - timedelta(days=31), now - timedelta(days=29)
    add_visits(
        app,
        {"time": old, "ip": "203.0.113.77"},
        {"time": old, "ip": "2001:db8:85a3:8d3:1319:8a2e:370:7348"},
        {"time": recent, "ip": "198.51.100.9"},
        {"time": old, "ip": None, "blocking_signal": True},
    )
    add_submissions(
        app, {"created_at": old, "ip": "192.0.2.200"}, {"created_at": recent, "ip": "2001:db8:1234:5678::1"}
    )
    with app.app_context():
        db.session.add(Subscription(email="n@example.org", confirmed_at=old, confirmed_ip="198.51.100.250"))
        db.session.commit()

    output = purge(runner)
    assert "Shortened 4 IP addresses kept older than 30 days" in output
    assert [v.ip for v in recorded(app)] == ["203.0.113.0/24", "2001:db8:85a3::/48", "198.51.100.9", None]
    assert stored(app, Submission, Submission.ip) == ["192.0.2.0/24", "2001:db8:1234:5678::1"]
    assert stored(app, Subscription, Subscription.confirmed_ip) == ["198.51.100.0/24"]

    assert "Shortened 0 IP addresses" in purge(runner)  # a second run changes nothing
    assert [v.ip for v in recorded(app)] == ["203.0.113.0/24", "2001:db8:85a3::/48", "198.51.100.9", None]


def test_purge_reads_due_rows_in_batches_and_leaves_unreadable_values_unknown(app, runner, monkeypatch):
    monkeypatch.setattr("webshop.visits.cli.TRUNCATE_BATCH", 2)
    old = utcnow() - timedelta(days=40)
    add_visits(app, *({"time": old, "ip": f"203.0.113.{n}"} for n in range(5)))
    add_submissions(
        app,
        {"created_at": old, "ip": "not an address"},
        {"created_at": old, "ip": "192.0.2.0/24"},  # shortened already
        {"created_at": old, "ip": "::ffff:192.0.2.9"},
    )
    assert "Shortened 7 IP addresses" in purge(runner)
    assert {v.ip for v in recorded(app)} == {"203.0.113.0/24"}
    assert stored(app, Submission, Submission.ip) == [None, "192.0.2.0/24", "192.0.2.0/24"]


@pytest.mark.parametrize("app_config", [{"IP_RETENTION_DAYS": 0}])
def test_with_zero_days_purge_shortens_every_address_and_new_rows_are_stored_shortened(app, client, runner):
    add_visits(app, {"time": utcnow(), "ip": "203.0.113.5"})
    add_submissions(app, {"created_at": utcnow(), "ip": "2001:db8:abcd:12::1"})
    assert "Shortened 2 IP addresses kept at once" in purge(runner)
    assert [v.ip for v in recorded(app)] == ["203.0.113.0/24"]
    assert stored(app, Submission, Submission.ip) == ["2001:db8:abcd::/48"]

    client.get("/", environ_base={"REMOTE_ADDR": "198.51.100.23"})
    client.environ_base["REMOTE_ADDR"] = "2001:db8:4321:1:2:3:4:5"
    sign_up(client, app)
    assert "198.51.100.0/24" in [v.ip for v in recorded(app)]
    assert not {"198.51.100.23", "2001:db8:4321:1:2:3:4:5"} & {v.ip for v in recorded(app)}
    assert submissions(app, "newsletter")[0].ip == "2001:db8:4321::/48"
    receipt = client.get(f"/receipt/{submissions(app, 'newsletter')[0].receipt_id}.json")
    assert "2001:db8:4321::/48" in receipt.get_data(as_text=True)


def test_with_zero_days_the_domain_is_still_looked_up_by_the_full_address(database, app_config, dns_server, request):
    app_config.update(dns_server.config, IP_RETENTION_DAYS=0)
    app = request.getfixturevalue("app")
    client = app.test_client()
    client.get("/", environ_base={"REMOTE_ADDR": "127.0.0.23"})
    wait_for_lookup(app, "127.0.0.23")
    client.get("/cart", environ_base={"REMOTE_ADDR": "127.0.0.23"})
    client.environ_base["REMOTE_ADDR"] = "127.0.0.23"
    sign_up(client, app)
    cart = next(v for v in recorded(app) if v.path == "/cart")
    assert (cart.ip, cart.domain, cart.domain_confirmed) == ("127.0.0.0/24", "shopper23.loopback.test", True)
    [signup] = submissions(app, "newsletter")
    assert (signup.ip, signup.domain) == ("127.0.0.0/24", "shopper23.loopback.test")


def test_visit_export_writes_addresses_past_the_retention_period_shortened_before_any_purge(app, runner):
    now = utcnow()
    add_visits(
        app,
        {"time": now - timedelta(days=45), "ip": "203.0.113.77"},
        {"time": now - timedelta(days=45), "ip": "2001:db8:85a3:8d3::7348"},
        {"time": now, "ip": "198.51.100.9"},
    )
    combined = runner.invoke(args=["visits", "export", "--format", "combined"]).output.splitlines()
    assert [line.split(" ")[0] for line in combined] == ["203.0.113.0", "2001:db8:85a3::", "198.51.100.9"]
    lines = runner.invoke(args=["visits", "export", "--format", "json"]).output.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [row["ip"] for row in rows] == ["203.0.113.0/24", "2001:db8:85a3::/48", "198.51.100.9"]
    assert [v.ip for v in recorded(app)][0] == "203.0.113.77"  # the export changes nothing stored


@pytest.mark.parametrize("app_config", [{"IP_RETENTION_DAYS": 0}])
def test_goaccess_reads_every_shortened_host_field(app, runner, tmp_path):
    add_visits(app, {"time": utcnow(), "ip": "203.0.113.77"}, {"time": utcnow(), "ip": "2001:db8:85a3::1"})
    purge(runner)
    add_visits(app, {"time": utcnow(), "ip": "192.0.2.8"})  # full in the database, shortened on export
    log = tmp_path / "access.log"
    assert runner.invoke(args=["visits", "export", "--format", "combined", "-o", str(log)]).exit_code == 0
    assert "192.0.2.8" not in log.read_text() and "192.0.2.0 " in log.read_text()
    report = tmp_path / "report.json"
    subprocess.run(
        [GOACCESS, str(log), "--no-global-config", "--log-format=COMBINED", "-o", str(report)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    general = json.loads(report.read_text())["general"]
    assert (general["valid_requests"], general["failed_requests"], general["unique_visitors"]) == (3, 0, 3)


@pytest.mark.parametrize(
    ("app_config", "promise"),
    [
        ({}, "We keep your full IP address for 30 days; after that it is shortened"),
        ({"IP_RETENTION_DAYS": 7}, "We keep your full IP address for 7 days; after that it is shortened"),
        ({"IP_RETENTION_DAYS": 0}, "We do not keep your full IP address: it is shortened at once"),
    ],
)
def test_policy_states_the_configured_ip_retention(client, promise):
    text = element_text(client.get("/privacy").get_data(as_text=True), "ip-retention")
    assert text.startswith(promise)
    assert "(a /24)" in text and "(a /48)" in text
