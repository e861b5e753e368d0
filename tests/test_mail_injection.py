"""Typed text never becomes mail structure: RFC 2047 encoded words stay text, bad addresses are
form errors, and a mail that fails is reported on the confirmation page, never as a 500."""

from email import message_from_bytes, policy

import pytest

from tests.support.forms import FORM_IDS, FORMS, outbox, send, submissions
from tests.support.ports import free_port
from webshop import mail
from webshop.db import db
from webshop.models import Submission

BY_KIND = {case.kind: case for case in FORMS}
# Decoded by a lenient mail library, this is a line break, a new Content-Type header and an HTML body.
ENCODED_WORD_ATTACK = "=?utf-8?q?Hi=0D=0AContent-Type:_text/html=0D=0A=0D=0A<h1>x?="
NAME_ATTACK = "=?utf-8?q?Jane=0D=0ABcc:_victim@example.net=0D=0A?="
BAD_ADDRESSES = ["=?utf-8?q?=0d=0a?=@example.org", "=?utf-8?q?jane?=@example.org"]
STRICT = policy.default.clone(raise_on_defect=True)
EXPECTED_HEADERS = {
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "Content-Type",
    "Content-Transfer-Encoding",
    "MIME-Version",
}


def header_lines(raw: bytes) -> list[bytes]:
    """The header lines of a raw message as written on the wire, continuation lines left out."""
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return [line for line in head.split(b"\n") if line and not line[:1].isspace()]


def assert_carries_text_only(raw: bytes, subject: str, reply_name: str | None = None):
    names = [line.split(b":", 1)[0].decode() for line in header_lines(raw)]
    assert set(names) <= EXPECTED_HEADERS, names  # nothing injected, such as Bcc
    assert names.count("Content-Type") == 1
    message = message_from_bytes(raw, policy=STRICT)
    assert message["Subject"] == subject  # decodes to the literal text typed
    assert all(not message[name].defects for name in message.keys())
    assert message.get_content_type() == "text/plain" and not message.is_multipart()
    assert message.get_content_charset() == "utf-8"  # the one text/plain part, not an injected HTML one
    if reply_name is not None:
        [reply_to] = message["Reply-To"].addresses
        assert (reply_to.display_name, reply_to.addr_spec) == (reply_name, "jane@example.org")


def raw_outbox(instance_path) -> list[bytes]:
    return [path.read_bytes() for path in sorted((instance_path / "outbox" / "new").iterdir())]


def test_encoded_words_in_contact_subject_and_name_stay_text_in_the_outbox(client, app, instance_path):
    response = send(client, app, BY_KIND["contact"], subject=ENCODED_WORD_ATTACK, name=NAME_ATTACK)
    assert response.status_code == 303
    raws = raw_outbox(instance_path)
    [to_store] = [raw for raw in raws if b"Reply-To" in raw]
    assert_carries_text_only(to_store, f"Contact form: {ENCODED_WORD_ATTACK}", NAME_ATTACK)
    [entry] = [entry for entry in outbox(app) if entry.subject.startswith("Contact form")]
    assert entry.subject == f"Contact form: {ENCODED_WORD_ATTACK}"  # as staff read it in the outbox


def test_encoded_words_in_contact_subject_and_name_stay_text_through_smtp(client, app, smtp_server):
    app.config.update(smtp_server.config)
    response = send(client, app, BY_KIND["contact"], subject=ENCODED_WORD_ATTACK, name=NAME_ATTACK)
    assert response.status_code == 303
    with smtp_server.recorder.lock:
        raws = [envelope.original_content for envelope in smtp_server.recorder.envelopes]
    assert smtp_server.recipients == [[app.config["STORE_EMAIL"]], ["jane@example.org"]]  # no Bcc added
    assert_carries_text_only(raws[0], f"Contact form: {ENCODED_WORD_ATTACK}", NAME_ATTACK)
    assert_carries_text_only(raws[1], "Your consent receipt: Contact form")
    assert outbox(app) == []


@pytest.mark.parametrize("subject", ["Grüße aus Köln", "=?", "?= =? plain", "a " * 70 + "long subject"])
def test_subjects_read_back_as_typed(app, subject):
    with app.test_request_context():
        reply_to = mail.Address(display_name=subject, addr_spec="j@example.org")
        message = mail.build_message(mail.store_address(), subject, "Body", reply_to=reply_to).message
    assert_carries_text_only(message.as_bytes(), subject, None)
    [reply_to] = message_from_bytes(message.as_bytes(), policy=STRICT)["Reply-To"].addresses
    assert reply_to.display_name == subject


@pytest.mark.parametrize("address", BAD_ADDRESSES)
@pytest.mark.parametrize("case", FORMS, ids=FORM_IDS)
def test_an_address_the_mail_library_would_change_is_a_form_error(client, app, case, address):
    response = send(client, app, case, **{case.email_field: address})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "This address cannot be used for mail" in page
    assert 'value="=?utf-8?q?' in page  # what was typed is kept for correcting
    assert submissions(app, case.kind) == []


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_building_a_message_to_such_an_address_raises_a_build_error(app, address):
    with app.test_request_context(), pytest.raises(mail.MailBuildError):
        mail.build_message(address, "Hello", "Body")


class TestMailServerDown:
    @pytest.fixture
    def app_config(self):
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": free_port(), "MAIL_TIMEOUT": 2}  # nobody listens

    @pytest.mark.parametrize("case", FORMS, ids=FORM_IDS)
    def test_the_person_sees_their_stored_submission_and_that_the_mail_failed(self, client, app, case):
        response = send(client, app, case)
        assert response.status_code == 303
        page = client.get(response.headers["Location"])
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert "the mail about it could not be sent" in text
        assert "we also sent it" not in text
        [submission] = submissions(app, case.kind)
        assert f"/receipt/{submission.receipt_id}" in text
        assert all(entry.smtp_failed for entry in outbox(app)) and outbox(app)

    def test_the_chat_answers_its_script_with_the_mail_failure(self, client, app):
        from tests.support.pages import hidden_fields

        tokens = hidden_fields(client.get("/chat").get_data(as_text=True))
        data = {**tokens, "display_name": "Jane", "message": "hi", "email": "jane@example.org"}
        response = client.post("/chat", data=data, headers={"X-Requested-With": "fetch"})
        assert response.status_code == 201 and response.get_json()["mail_sent"] is False


def test_a_stored_address_that_cannot_be_mailed_leaves_the_submission_and_no_500(client, app):
    """A row stored before addresses were checked: its receipt cannot be built, the page still answers."""
    from webshop.submissions import commit_and_mail, receipt_message

    send(client, app, BY_KIND["board"])
    with app.test_request_context():
        submission = db.session.execute(db.select(Submission)).scalar_one()
        submission.email = BAD_ADDRESSES[0]
        assert commit_and_mail(submission, lambda: [receipt_message(submission)]) is False
    [stored] = submissions(app, "board")
    assert stored.email == BAD_ADDRESSES[0]
