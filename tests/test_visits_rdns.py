"""Reverse DNS against real DNS servers on loopback (tests/support/dns.py)."""

import pytest

from tests.support.dns import BlackHoleDNS, wait_for_lookup
from tests.support.visits import recorded
from webshop.db import db
from webshop.models import Submission
from webshop.visits.identity import current_identity


@pytest.fixture(scope="module")
def black_hole():
    server = BlackHoleDNS()
    yield server
    server.stop()


@pytest.fixture
def app_config(dns_server):
    return dns_server.config


def resolver_of(app):
    return app.extensions["webshop.resolver"]


def visit_from(client, ip, path="/"):
    response = client.get(path, environ_base={"REMOTE_ADDR": ip})
    assert response.status_code == 200


def test_forward_confirmed_name_is_filled_into_the_visit(app, client):
    visit_from(client, "127.0.0.23")
    wait_for_lookup(app, "127.0.0.23")
    visit_from(client, "127.0.0.23", "/cart")
    first, second = recorded(app)
    assert (first.domain, first.domain_confirmed) == ("shopper23.loopback.test", True)
    assert (second.domain, second.domain_confirmed) == ("shopper23.loopback.test", True)


def test_name_whose_forward_lookup_does_not_match_is_kept_unconfirmed(app, client, runner):
    visit_from(client, "127.0.0.24")
    wait_for_lookup(app, "127.0.0.24")
    [visit] = recorded(app)
    assert (visit.domain, visit.domain_confirmed) == ("bank.spoofed.test", False)
    exported = runner.invoke(args=["visits", "export", "--hostnames"]).output
    assert exported.startswith("127.0.0.24 ")  # an unconfirmed name is never the host field


def test_address_without_a_name_stays_without_domain(app, client, dns_server):
    before = len(dns_server.zone.queries)
    visit_from(client, "127.0.0.25")
    wait_for_lookup(app, "127.0.0.25")
    visit_from(client, "127.0.0.25")
    visits = recorded(app)
    assert [(v.ip, v.domain, v.domain_confirmed) for v in visits] == [("127.0.0.25", None, False)] * 2
    ptr_queries = [q for q in dns_server.zone.queries[before:] if q == ("25.0.0.127.in-addr.arpa.", "PTR")]
    assert len(ptr_queries) == 1  # the negative answer was cached


def test_confirmed_domain_reaches_the_export_and_submissions(app, client, runner):
    with app.app_context():
        db.session.add(Submission(kind="survey", policy_version="test", ip="127.0.0.26", fields={}))
        db.session.commit()
    visit_from(client, "127.0.0.26")
    wait_for_lookup(app, "127.0.0.26")
    recorded(app)  # the writer has applied the answer
    with app.app_context():
        submission = db.session.execute(db.select(Submission)).scalar_one()
        assert (submission.domain, submission.domain_confirmed) == ("shopper26.loopback.test", True)
    exported = runner.invoke(args=["visits", "export", "--hostnames"]).output
    assert exported.startswith("shopper26.loopback.test - - [")
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "127.0.0.26"}):
        app.preprocess_request()
        found = current_identity()
    assert (found.ip, found.domain, found.domain_confirmed) == ("127.0.0.26", "shopper26.loopback.test", True)


def test_blocking_signal_starts_no_lookup(app, client, dns_server):
    before = len(dns_server.zone.queries)
    client.get("/", headers={"Sec-GPC": "1"}, environ_base={"REMOTE_ADDR": "127.0.0.23"})
    [visit] = recorded(app)
    assert (visit.ip, visit.domain) == (None, None)
    assert len(dns_server.zone.queries) == before
    assert not resolver_of(app).pending("127.0.0.23")


@pytest.mark.parametrize("app_config", [{"RDNS_ENABLED": False}])
def test_rdns_disabled_means_no_lookup_and_no_domain(app, client):
    visit_from(client, "127.0.0.23")
    [visit] = recorded(app)
    assert visit.domain is None
    assert "webshop.resolver" not in app.extensions


def test_resolver_that_never_answers_delays_no_response(black_hole, database, instance_path):
    """Pages are served while their lookups wait, and the waiting work stays bounded."""
    from webshop import create_app

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "k",
            "SQLALCHEMY_DATABASE_URI": database,
            "RDNS_ENABLED": True,
            "RDNS_NAMESERVERS": [black_hole.nameserver],
            "RDNS_TIMEOUT": 5,
            "RDNS_QUEUE_SIZE": 8,
            "RDNS_THREADS": 2,
        },
        instance_path=str(instance_path),
    )
    client = app.test_client()
    resolver = resolver_of(app)
    try:
        visit_from(client, "127.0.0.40")
        assert resolver.pending("127.0.0.40")  # the page was served; its lookup still waits
        for n in range(60):
            visit_from(client, f"127.0.1.{n}")
        assert resolver.queue.qsize() <= 8
        assert len(resolver.threads) == 2
        assert resolver.dropped >= 60 - 8 - 2
        assert len(recorded(app)) == 61
        assert black_hole.received() >= 1  # the lookups really went out and got no answer
    finally:
        from webshop.visits import shutdown

        shutdown(app)
        with app.app_context():
            db.engine.dispose()
