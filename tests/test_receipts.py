"""Consent receipts: Kantara v1.1 fields, the choices made, what was recorded, personal values masked."""

from datetime import UTC

import pytest

from tests.support.forms import FORMS, send, submissions
from webshop.db import db
from webshop.models import Submission, utcnow

BY_KIND = {case.kind: case for case in FORMS}

KANTARA_FIELDS = {
    "version",
    "jurisdiction",
    "consentTimestamp",
    "collectionMethod",
    "consentReceiptID",
    "language",
    "piiPrincipalId",
    "piiControllers",
    "policyUrl",
    "services",
    "sensitive",
    "spiCat",
}
PURPOSE_FIELDS = {
    "purpose",
    "purposeCategory",
    "consentType",
    "piiCategory",
    "primaryPurpose",
    "termination",
    "thirdPartyDisclosure",
    "thirdPartyName",
}


def receipt_of(client, app, kind="contact", **changes):
    send(client, app, BY_KIND[kind], **changes)
    [submission] = submissions(app, BY_KIND[kind].kind)
    return submission, client.get(f"/receipt/{submission.receipt_id}.json").get_json()


def test_receipt_json_has_the_kantara_fields(client, app):
    submission, receipt = receipt_of(client, app)
    assert KANTARA_FIELDS <= set(receipt)
    assert receipt["version"] == "KI-CR-v1.1.0"
    assert receipt["consentReceiptID"] == submission.receipt_id
    assert receipt["language"] == "en"
    assert receipt["collectionMethod"] == "Web form: Contact form (/contact)"
    assert receipt["consentTimestamp"] == int(submission.created_at.replace(tzinfo=UTC).timestamp())
    [controller] = receipt["piiControllers"]
    assert controller["piiController"] == app.config["STORE_NAME"]
    assert controller["email"] == app.config["STORE_EMAIL"]
    assert controller["address"] == app.config["STORE_ADDRESS"]
    assert controller["contact"]
    assert receipt["policyUrl"] == "http://localhost/privacy"
    assert receipt["policyVersion"] == submission.policy_version
    [service] = receipt["services"]
    assert service["service"] == "Contact form"
    for purpose in service["purposes"]:
        assert PURPOSE_FIELDS <= set(purpose)
    assert [p["primaryPurpose"] for p in service["purposes"]] == [True, False, False, False]
    assert "Email address" in service["purposes"][0]["piiCategory"]
    assert "IP address" in service["purposes"][0]["piiCategory"]


def test_sharing_purpose_names_the_third_parties_unless_opted_out(client, app):
    _, shared = receipt_of(client, app)
    sharing = shared["services"][0]["purposes"][-1]
    assert sharing["thirdPartyDisclosure"] is True and "affiliated" in sharing["thirdPartyName"]
    _, kept = receipt_of(client, app, "survey", no_share="y", no_marketing="y")
    purposes = kept["services"][0]["purposes"]
    assert purposes[-1]["thirdPartyDisclosure"] is False and purposes[-1]["thirdPartyName"] == ""
    assert purposes[2]["optedOut"] is True  # marketing
    assert kept["optOuts"] == {"noMarketing": True, "noShare": True, "blockingSignal": False}


def test_personal_values_are_masked_and_choices_shown(client, app):
    submission, receipt = receipt_of(client, app, "registration")
    assert receipt["piiPrincipalId"] == "j***@example.org"
    assert receipt["fields"]["name"] == "J***"
    assert receipt["fields"]["serial_number"] == "S***"
    assert receipt["fields"]["product"] == "Hush ANC Headphones"
    html = client.get(f"/receipt/{submission.receipt_id}").get_data(as_text=True)
    assert "jane@example.org" not in html and "Jane Doe" not in html and "SN-12345" not in html
    assert "j***@example.org" in html


def test_receipt_page_shows_choices_ip_and_policy(client, app):
    submission, _ = receipt_of(client, app, "board", no_marketing="y")
    html = client.get(f"/receipt/{submission.receipt_id}").get_data(as_text=True)
    assert submission.receipt_id in html
    assert "Use for marketing: <strong>no — you opted out</strong>" in html
    assert "Share with other organisations: <strong>yes</strong>" in html
    assert '<dd class="recorded-ip">127.0.0.0/24</dd>' in html and "127.0.0.1" not in html  # its network only
    assert f'<span class="policy-version">{submission.policy_version}</span>' in html
    assert 'href="http://localhost/privacy"' in html
    assert f'href="/receipt/{submission.receipt_id}.json"' in html


def test_unknown_or_malformed_receipt_ids_are_not_found(client, app):
    assert client.get("/receipt/00000000-0000-4000-8000-000000000000").status_code == 404
    assert client.get("/receipt/00000000-0000-4000-8000-000000000000.json").status_code == 404
    assert client.get("/receipt/1").status_code == 404
    assert client.get("/thanks/00000000-0000-4000-8000-000000000000").status_code == 404


def test_receipt_of_an_erased_submission_is_gone(client, app):
    submission, _ = receipt_of(client, app)
    with app.app_context():
        db.session.get(Submission, submission.id).erased_at = utcnow()
        db.session.commit()
    assert client.get(f"/receipt/{submission.receipt_id}").status_code == 410
    assert client.get(f"/receipt/{submission.receipt_id}.json").status_code == 410


def test_receipt_ids_are_random_uuids(client, app):
    send(client, app, BY_KIND["chat"])
    send(client, app, BY_KIND["chat"])
    first, second = submissions(app, "chat")
    assert first.receipt_id != second.receipt_id
    assert len(first.receipt_id) == 36 and first.receipt_id[14] == "4"


@pytest.mark.parametrize("case", FORMS, ids=[case.kind for case in FORMS])
def test_every_form_has_a_receipt_page(client, app, case):
    send(client, app, case)
    [submission] = submissions(app, case.kind)
    response = client.get(f"/receipt/{submission.receipt_id}")
    assert response.status_code == 200
    assert "Consent receipt" in response.get_data(as_text=True)
