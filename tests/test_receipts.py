"""Consent receipts: Kantara v1.1 fields, the choices made, what was recorded, personal values masked."""

import json
from datetime import UTC, datetime

import pytest

from tests.support.apps import TEST_KEY
from tests.support.forms import FORMS, outbox, send, submissions
from tests.support.my_data import open_access, post_on_everything
from tests.support.pages import acknowledge_banner
from webshop import create_app
from webshop.cookies import serializer
from webshop.db import db
from webshop.models import Submission, utcnow
from webshop.receipt_signatures import verify

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


def add_recipient(app, name, kind="third-party"):
    result = app.test_cli_runner().invoke(args=["share", "recipients", "add", name, "--kind", kind])
    assert result.exit_code == 0, result.output


def test_sharing_purpose_names_the_recipients_unless_opted_out(client, app):
    # The receipt names the organisations registered at the time, not a
    # description of them: a person can look each one up.
    add_recipient(app, "Partner Books", "affiliate")
    add_recipient(app, "Acme Mailing")
    _, shared = receipt_of(client, app)
    sharing = shared["services"][0]["purposes"][-1]
    assert sharing["thirdPartyDisclosure"] is True and sharing["optedOut"] is False
    assert sharing["thirdPartyName"] == "Acme Mailing, Partner Books"
    _, kept = receipt_of(client, app, "survey", no_share="y", no_marketing="y")
    purposes = kept["services"][0]["purposes"]
    assert purposes[-1]["thirdPartyDisclosure"] is False and purposes[-1]["thirdPartyName"] == ""
    assert purposes[2]["optedOut"] is True  # marketing
    assert kept["optOuts"] == {"noMarketing": True, "noShare": True, "blockingSignal": False}


def test_with_no_recipient_registered_the_receipt_says_so(client, app):
    _, receipt = receipt_of(client, app)
    sharing = receipt["services"][0]["purposes"][-1]
    assert sharing["thirdPartyDisclosure"] is True
    assert sharing["thirdPartyName"].startswith("No organisation is registered to receive marketing lists")


def test_personal_values_are_masked_and_choices_shown(client, app):
    # piiPrincipalId names the person (Kantara: whom the consent is from), so
    # it is the address as given; what they typed besides stays masked.
    submission, receipt = receipt_of(client, app, "registration")
    assert receipt["piiPrincipalId"] == "jane@example.org"
    assert receipt["fields"]["name"] == "J***"
    assert receipt["fields"]["serial_number"] == "S***"
    assert receipt["fields"]["product"] == "Hush ANC Headphones"
    html = client.get(f"/receipt/{submission.receipt_id}").get_data(as_text=True)
    assert "Jane Doe" not in html and "SN-12345" not in html
    assert "jane@example.org" in html


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


# --- Frozen when given, with a status beside it ---------------------------------------


def app_on(database, instance, **config):
    return create_app(
        {"TESTING": True, "SECRET_KEY": TEST_KEY, "SQLALCHEMY_DATABASE_URI": database, "RDNS_ENABLED": False, **config},
        instance_path=str(instance),
    )


def test_receipt_answers_the_same_bytes_after_the_store_changes_and_restarts(client, app, database, instance_path):
    submission, _ = receipt_of(client, app)
    url = f"/receipt/{submission.receipt_id}"
    before = client.get(url + ".json")
    assert before.mimetype == "application/json"
    changed = app_on(
        database,
        instance_path,
        STORE_NAME="Renamed Gadgets",
        STORE_ADDRESS="1 New Road, Elsewhere",
        STORE_PHONE="+1 555 0199",
    )
    restarted = changed.test_client()
    after = restarted.get(url + ".json")
    assert after.status_code == 200 and after.get_data() == before.get_data()
    [controller] = json.loads(after.get_data())["piiControllers"]
    assert controller["piiController"] == app.config["STORE_NAME"] != "Renamed Gadgets"
    token = restarted.get(url + ".jwt").get_data(as_text=True)
    keys = json.loads(restarted.get("/.well-known/jwks.json").get_data())
    assert verify(token, keys) == before.get_data()
    page = restarted.get(url).get_data(as_text=True)
    assert app.config["STORE_ADDRESS"] in page.split("<footer")[0] and "1 New Road" not in page.split("<footer")[0]


def test_the_receipt_mail_carries_the_stored_document(client, app):
    submission, receipt = receipt_of(client, app)
    with app.app_context():
        row = db.session.get(Submission, submission.id)
        assert json.loads(row.receipt_document) == receipt
    [message] = [m for m in outbox(app) if "consent receipt" in str(m.message["Subject"])]
    body = message.message.get_content()
    assert receipt["consentReceiptID"] in body and receipt["piiControllers"][0]["phone"] in body


def test_a_receipt_recorded_before_documents_were_kept_is_frozen_on_first_read(client, app):
    submission, _ = receipt_of(client, app)
    with app.app_context():
        db.session.get(Submission, submission.id).receipt_document = None
        db.session.commit()
    first = client.get(f"/receipt/{submission.receipt_id}.json").get_data()
    with app.app_context():
        assert db.session.get(Submission, submission.id).receipt_document.encode() == first
    app.config["STORE_NAME"] = "Renamed Gadgets"
    assert client.get(f"/receipt/{submission.receipt_id}.json").get_data() == first


def status_headers(client, submission):
    url = f"/receipt/{submission.receipt_id}"
    return [client.get(url + ext) for ext in (".json", ".jwt")]


def test_withdrawal_revokes_the_receipt_and_leaves_the_document(client, app):
    submission, _ = receipt_of(client, app)
    active = status_headers(client, submission)
    assert [r.headers["Receipt-Status"] for r in active] == ["ACTIVE", "ACTIVE"]
    assert 'id="receipt-status"' in (html := client.get(f"/receipt/{submission.receipt_id}").get_data(as_text=True))
    assert "<strong>active</strong>" in html
    with app.app_context():
        db.session.get(Submission, submission.id).withdrawn_at = datetime(2026, 12, 2, 10, 0, 0, 123456)
        db.session.commit()
    revoked = status_headers(client, submission)
    assert [r.headers["Receipt-Status"] for r in revoked] == ["REVOKED; at=2026-12-02T10:00:00Z"] * 2
    assert [r.status_code for r in revoked] == [200, 200]
    assert revoked[0].get_data() == active[0].get_data()  # status changes, the document does not
    html = client.get(f"/receipt/{submission.receipt_id}").get_data(as_text=True)
    assert "<strong>revoked</strong> since" in html and "2026-12-02 10:00:00 UTC" in html
    assert "consent was withdrawn" in html


def test_erasure_on_your_data_removes_the_document_and_the_receipt_answers_410(client, app):
    submission, _ = receipt_of(client, app)
    open_access(client, app)
    response = post_on_everything(client, "/my-data/email/erase", {"confirm": "y"})
    assert response.status_code == 303
    with app.app_context():
        row = db.session.get(Submission, submission.id)
        assert row.receipt_document is None
        erased_at = row.erased_at
    at = erased_at.replace(microsecond=0).isoformat() + "Z"
    for response in status_headers(client, submission):
        assert response.status_code == 410
        assert response.headers["Receipt-Status"] == f"REVOKED; at={at}"
        assert response.get_json() == {"consentReceiptID": submission.receipt_id, "status": "REVOKED", "revokedAt": at}
        assert "jane" not in response.get_data(as_text=True)
    assert client.get(f"/receipt/{submission.receipt_id}").status_code == 410


@pytest.mark.parametrize(
    ("ip", "network"),
    [("203.0.113.45", "203.0.113.0/24"), ("2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:db8:85a3::/48")],
    ids=["ipv4", "ipv6"],
)
def test_the_stored_receipt_holds_the_network_never_the_full_address(app, ip, network):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    submission, receipt = receipt_of(client, app)
    with app.app_context():
        row = db.session.get(Submission, submission.id)
        assert row.ip == ip  # the row keeps it (until minimised); the receipt never does
        stored = row.receipt_document
    assert ip not in stored and "1319:8a2e" not in stored
    assert receipt["recorded"]["ip"] == network
    assert ip not in client.get(f"/receipt/{submission.receipt_id}.jwt").get_data(as_text=True)


def test_the_controller_phone_comes_from_the_configuration(client, app):
    _, receipt = receipt_of(client, app)
    assert receipt["piiControllers"][0]["phone"] == app.config["STORE_PHONE"] == "+1 555 0100"
    assert "+1 555 0100" in client.get("/privacy").get_data(as_text=True)


def test_without_an_email_the_principal_is_the_visitor_id_or_a_plain_statement(client, app):
    acknowledge_banner(client)
    send(client, app, BY_KIND["chat"], email=None)
    with app.app_context():
        visitor_id = serializer("visitor").loads(client.get_cookie("visitor").value)
    [by_cookie] = submissions(app, "chat")
    receipt = client.get(f"/receipt/{by_cookie.receipt_id}.json").get_json()
    assert receipt["piiPrincipalId"] == visitor_id
    blocked = app.test_client()
    send(blocked, app, BY_KIND["chat"], email=None, headers={"Sec-GPC": "1"})
    [_, by_nobody] = submissions(app, "chat")
    receipt = blocked.get(f"/receipt/{by_nobody.receipt_id}.json").get_json()
    assert receipt["piiPrincipalId"].startswith("None recorded") and "blocking signal" in receipt["piiPrincipalId"]
    assert receipt["services"][0]["purposes"][-1]["thirdPartyDisclosure"] is False
