"""The domain name of the request is stored with a submission and shown on its receipt (SPEC §1 combine)."""

import time

import pytest

from tests.dns_server import LoopbackDNS
from tests.forms import FORMS, send, submissions

SHOPPER = {"REMOTE_ADDR": "127.0.0.23"}


@pytest.fixture(scope="module")
def dns_server():
    server = LoopbackDNS().start()
    yield server
    server.stop()


@pytest.fixture
def app_config(dns_server):
    return {"RDNS_ENABLED": True, "RDNS_NAMESERVERS": [dns_server.nameserver], "RDNS_TIMEOUT": 3}


def wait_for_lookup(app, ip):
    resolver = app.extensions["webshop.resolver"]
    for _ in range(500):
        if not resolver.pending(ip) and resolver.cached(ip)[0]:
            return
        time.sleep(0.02)
    raise AssertionError(f"no domain for {ip}")


@pytest.mark.parametrize("case", FORMS, ids=[case.kind for case in FORMS])
def test_forward_confirmed_domain_is_stored_and_on_the_receipt(app, case):
    client = app.test_client()
    client.environ_base.update(SHOPPER)
    client.get("/")  # the visit asks the resolver, off the request path
    wait_for_lookup(app, "127.0.0.23")
    assert send(client, app, case).status_code == 303
    [submission] = submissions(app, case.kind)
    assert (submission.ip, submission.domain, submission.domain_confirmed) == (
        "127.0.0.23",
        "shopper23.loopback.test",
        True,
    )
    # A receipt opens for whoever has its link, so it names the domain only by its last labels.
    receipt = client.get(f"/receipt/{submission.receipt_id}.json").get_json()
    assert receipt["recorded"]["domain"] == "…loopback.test"
    html = client.get(f"/receipt/{submission.receipt_id}").get_data(as_text=True)
    assert '<dd class="recorded-domain">…loopback.test</dd>' in html and "shopper23" not in html
