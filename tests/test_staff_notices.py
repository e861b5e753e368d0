"""Site-update notices reach exactly the allowed subscribers, once, through a real SMTP server."""

import re

import pytest

from tests.support.pages import csrf_token_from, submit
from tests.support.staff import signed_in, submission
from webshop.db import db
from webshop.models import AuditEvent, EmailPreference, NoticeDelivery, Submission, Subscription, utcnow

ALLOWED = ["ok1@example.org", "ok2@example.org", "ok3@example.org"]


def subscriber(email, status=Subscription.CONFIRMED, **signup):
    """A subscription and its signup, proven unless it is still pending (its link not followed)."""
    signup.setdefault("proven_at", None if status == Subscription.PENDING else utcnow())
    row = submission("newsletter", email, **signup)
    db.session.add(row)
    db.session.flush()
    db.session.add(Subscription(email=email, status=status, submission_id=row.id, topics=["site-updates"]))


@pytest.fixture
def audience(app):
    with app.app_context():
        for email in ALLOWED:
            subscriber(email)
        subscriber("pending@example.org", Subscription.PENDING)
        subscriber("gone@example.org", Subscription.UNSUBSCRIBED)
        subscriber("nomarketing@example.org", no_marketing=True)
        subscriber("gpc@example.org", blocking_signal=True, no_share=True)
        subscriber("erased@example.org", erased_at=utcnow())
        subscriber("prefoff@example.org")
        db.session.add(EmailPreference(email="prefoff@example.org", marketing_off=True))
        db.session.commit()


def compose(client, subject="We moved the chat", body="The chat room has a new home."):
    response = submit(client, "/admin/notices", {"subject": subject, "body": body, "action": "save"})
    assert response.status_code == 303
    return response.headers["Location"]


def send(client, notice_url):
    page = client.get(notice_url).get_data(as_text=True)
    number = notice_url.rsplit("/", 1)[1]
    return client.post(f"/admin/notices/{number}/send", data={"csrf_token": csrf_token_from(page)})


class TestThroughSMTP:
    @pytest.fixture
    def app_config(self, smtp_server):
        return {**smtp_server.config, "VISITS_ENABLED": False, "NOTICE_BATCH_SIZE": 2}

    def test_notice_reaches_exactly_the_allowed_subscribers_once(self, app, client, audience, smtp_server):
        signed_in(app, client)
        preview = submit(client, "/admin/notices", {"subject": "Hello", "body": "Preview me", "action": "preview"})
        assert "Preview me" in preview.get_data(as_text=True) and not smtp_server.messages
        assert '<strong id="audience-count">3</strong>' in preview.get_data(as_text=True)

        notice_url = compose(client)
        assert "Sent to 0 of 3 subscribers." in client.get(notice_url).get_data(as_text=True)
        assert send(client, notice_url).status_code == 303
        page = client.get(notice_url).get_data(as_text=True)
        assert "Sent to 2 of 3 subscribers." in page and "Continue sending" in page
        send(client, notice_url)
        page = client.get(notice_url).get_data(as_text=True)
        assert "Sent to 3 of 3 subscribers." in page and "Continue sending" not in page

        send(client, notice_url)  # pressing again (another tab, a resend) mails nobody twice
        assert sorted(r for [r] in smtp_server.recipients) == ALLOWED
        for message in smtp_server.messages:
            assert message["Subject"] == "We moved the chat"
            assert "The chat room has a new home." in message.get_content()
            assert re.fullmatch(r"<http://localhost/newsletter/unsubscribe/[^>]+>", message["List-Unsubscribe"])
            assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

        with app.app_context():
            assert db.session.execute(db.select(db.func.count()).select_from(NoticeDelivery)).scalar_one() == 3
            sends = db.session.execute(db.select(AuditEvent).where(AuditEvent.action == "send_notice")).scalars()
            assert [e.detail["sent"] for e in sends] == [2, 1, 0]

    def test_a_later_confirmation_gets_the_notice_and_earlier_ones_do_not_again(
        self,
        app,
        client,
        audience,
        smtp_server,
    ):
        signed_in(app, client)
        notice_url = compose(client)
        send(client, notice_url)
        send(client, notice_url)
        with app.app_context():  # what following the signup's own link does
            db.session.execute(
                db.update(Subscription).where(Subscription.email == "pending@example.org").values(status="confirmed")
            )
            db.session.execute(
                db.update(Submission).where(Submission.email == "pending@example.org").values(proven_at=utcnow())
            )
            db.session.commit()
        assert "Sent to 3 of 4 subscribers." in client.get(notice_url).get_data(as_text=True)
        send(client, notice_url)
        assert sorted(r for [r] in smtp_server.recipients) == sorted([*ALLOWED, "pending@example.org"])


class TestOutbox:
    @pytest.fixture
    def app_config(self):
        return {"VISITS_ENABLED": False}

    def test_without_a_mail_server_notices_wait_in_the_outbox_staff_can_read(self, app, client, audience):
        signed_in(app, client)
        send(client, compose(client, subject="Outbox notice"))
        listing = client.get("/admin/outbox").get_data(as_text=True)
        keys = re.findall(r'href="/admin/outbox/([^"]+)">Outbox notice<', listing)
        assert len(keys) == 3
        message = client.get(f"/admin/outbox/{keys[0]}").get_data(as_text=True)
        assert "The chat room has a new home." in message and "List-Unsubscribe-Post" in message
        assert client.get("/admin/outbox/no-such-key").status_code == 404
