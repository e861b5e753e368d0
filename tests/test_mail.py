"""Mail: the Maildir outbox by default, SMTP through a real server when MAIL_SERVER is set."""

import mailbox

import pytest

from tests.support.forms import FORMS, outbox, send
from tests.support.smtp import SMTPServer
from webshop import mail

BY_KIND = {case.kind: case for case in FORMS}


def test_without_mail_server_messages_go_to_a_maildir_in_the_instance_folder(app, instance_path):
    with app.test_request_context():
        message = mail.build_message("jane@example.org", "Hello", "Body text")
        mail.send(message)
    box = mailbox.Maildir(instance_path / "outbox", create=False)
    [stored] = list(box)
    assert stored["Subject"] == "Hello" and stored["To"] == "jane@example.org"
    [entry] = outbox(app)
    assert entry.text.strip() == "Body text" and not entry.smtp_failed


def test_messages_come_from_the_store_with_date_and_message_id(app):
    with app.test_request_context():
        message = mail.build_message("jane@example.org", "Hello", "Body").message
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (app.config["STORE_NAME"], app.config["STORE_EMAIL"])
    assert message["Date"] and message["Message-ID"].endswith("@voltage-vine.example>")


class TestThroughSMTP:
    @pytest.fixture
    def app_config(self, smtp_server):
        return smtp_server.config

    def test_contact_form_mail_reaches_a_real_smtp_server(self, client, app, smtp_server):
        response = send(client, app, BY_KIND["contact"])
        assert response.status_code == 303
        to_store, receipt = smtp_server.messages
        assert smtp_server.recipients == [[app.config["STORE_EMAIL"]], ["jane@example.org"]]
        assert to_store["Subject"] == "Contact form: A question"
        assert to_store["Reply-To"] == "Jane Doe <jane@example.org>"
        assert "Do you ship to Mars?" in to_store.get_content()
        assert receipt["Subject"].startswith("Your consent receipt")
        assert "/receipt/" in receipt.get_content()
        assert outbox(app) == []  # sent, so nothing waits in the outbox

    @pytest.mark.parametrize("case", FORMS, ids=[c.kind for c in FORMS])
    def test_every_form_mails_through_smtp(self, client, app, smtp_server, case):
        send(client, app, case)
        assert ["jane@example.org"] in smtp_server.recipients


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_login_with_configured_credentials(app):
    server = SMTPServer(credentials=("shop", "s3cret")).start()
    try:
        app.config.update(server.config, MAIL_USERNAME="shop", MAIL_PASSWORD="s3cret")
        with app.test_request_context():
            mail.send(mail.build_message("jane@example.org", "Authenticated", "Body"))
        assert server.recorder.logins == ["shop"]
        assert [m["Subject"] for m in server.messages] == ["Authenticated"]
    finally:
        server.stop()


def test_refused_smtp_delivery_is_kept_in_the_outbox_and_logged(app, caplog):
    from tests.support.ports import free_port

    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_TIMEOUT=2)  # nobody listens
    with app.test_request_context():
        mail.send(mail.build_message("jane@example.org", "Kept", "Body"))
    [entry] = outbox(app)
    assert entry.subject == "Kept" and entry.smtp_failed
    assert "SMTP delivery failed" in caplog.text
    assert "jane@example.org" not in caplog.text


def test_links_in_mail_use_server_name_not_the_request_host(app):
    app.config.update(SERVER_NAME="shop.example", PREFERRED_URL_SCHEME="https")
    with app.test_request_context("/", base_url="http://evil.example"):
        assert mail.external_url("privacy.policy") == "https://shop.example/privacy"


def test_workers_creating_the_outbox_at_the_same_moment_all_succeed(app, instance_path):
    """Several gunicorn workers may send their first mail at once; none may fail."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    start = context.Barrier(12)

    def first_mail(number):
        with app.test_request_context():
            start.wait()
            mail.send(mail.build_message(f"person{number}@example.org", f"Mail {number}", "Body"))

    workers = [context.Process(target=first_mail, args=(n,)) for n in range(12)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert [worker.exitcode for worker in workers] == [0] * 12
    assert sorted(entry.subject for entry in outbox(app)) == sorted(f"Mail {n}" for n in range(12))


def test_an_outbox_removed_while_the_shop_runs_is_made_again_for_the_next_message(app, instance_path):
    """The folders are made once per process; a write that finds them gone makes them again, still private."""
    import shutil

    with app.test_request_context():
        mail.send(mail.build_message("jane@example.org", "First", "Body"))
        shutil.rmtree(instance_path / "outbox")
        assert mail.send(mail.build_message("jane@example.org", "Second", "Body"))
        shutil.rmtree(instance_path / "outbox" / "tmp")
        assert mail.send(mail.build_message("jane@example.org", "Third", "Body"))
    assert sorted(entry.subject for entry in outbox(app)) == ["Second", "Third"]
    for folder in ("", "tmp", "new", "cur"):
        assert (instance_path / "outbox" / folder).stat().st_mode & 0o777 == 0o700


def flattenings(monkeypatch) -> list:
    """Every flattening of a message into bytes, as it happens."""
    import email.generator

    seen = []
    flatten = email.generator.BytesGenerator.flatten

    def counted(self, message, *args, **kwargs):
        seen.append(message)
        return flatten(self, message, *args, **kwargs)

    monkeypatch.setattr(email.generator.BytesGenerator, "flatten", counted)
    return seen


def test_a_message_is_flattened_once_and_those_bytes_are_kept_in_the_outbox(app, instance_path, monkeypatch):
    seen = flattenings(monkeypatch)
    with app.test_request_context():
        built = mail.build_message("jane@example.org", "Hello", "Body text")
        mail.send(built)
    assert len(seen) == 1
    [path] = (instance_path / "outbox" / "new").iterdir()
    assert path.read_bytes() == built.raw


def test_a_message_sent_through_smtp_is_flattened_once_and_arrives_as_those_bytes(app, smtp_server, monkeypatch):
    app.config.update(smtp_server.config)
    seen = flattenings(monkeypatch)
    with app.test_request_context():
        built = mail.build_message("jane@example.org", "Hello", "Body text")
        assert mail.send(built)
    assert len(seen) == 1
    [envelope] = smtp_server.recorder.envelopes
    assert (envelope.mail_from, envelope.rcpt_tos) == (app.config["STORE_EMAIL"], ["jane@example.org"])
    assert envelope.original_content.replace(b"\r\n", b"\n") == built.raw


def test_an_order_is_mailed_with_one_flattening_of_its_mail(client, app, monkeypatch):
    seen = flattenings(monkeypatch)
    response = send(client, app, BY_KIND["order"])
    assert response.status_code == 303 and len(seen) == 1
    [entry] = outbox(app)
    assert entry.subject.startswith("Your consent receipt")


def test_a_header_that_would_not_read_back_stops_the_message(app, instance_path):
    """An address whose domain the library writes as an encoded word reads back as another address."""
    with app.test_request_context(), pytest.raises(mail.MailBuildError, match="read back"):
        mail.build_message("jane@ex\u00e4mple.org", "Hello", "Body")
    assert not (instance_path / "outbox").exists() or outbox(app) == []


def test_a_bcc_header_is_refused_since_the_bytes_built_are_the_bytes_sent(app):
    with app.test_request_context(), pytest.raises(mail.MailBuildError):
        mail.build_message("jane@example.org", "Hello", "Body", headers={"Bcc": "hidden@example.org"})
