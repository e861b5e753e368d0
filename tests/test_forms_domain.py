"""The domain name of the request is stored with a submission and shown on its receipt (the "combine" clause)."""

import pytest

from tests.support.dns import wait_for_lookup
from tests.support.forms import FORMS, send, submissions

SHOPPER = {"REMOTE_ADDR": "127.0.0.23"}


@pytest.fixture
def app_config(dns_server):
    return dns_server.config


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
