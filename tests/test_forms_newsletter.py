"""Newsletter: double opt-in with single-use, signed, expiring links; RFC 8058 one-click unsubscribe."""

import re
import secrets
from urllib.parse import urlsplit

import pytest
from itsdangerous import TimestampSigner

from tests.support.forms import sign_up, submissions
from tests.support.my_data import JANE, NEWSLETTER_LINK, mails_to, path_in
from tests.support.pages import csrf_token_from, press_button
from webshop.db import db
from webshop.models import Subscription


def subscription(app, email="jane@example.org") -> Subscription | None:
    with app.app_context():
        found = db.session.execute(db.select(Subscription).where(Subscription.email == email)).scalar_one_or_none()
        db.session.expunge_all()
        return found


def mails_oldest_first(app, email=JANE):
    return list(reversed(mails_to(app, email)))


def confirm_path(entry) -> str:
    return path_in(NEWSLETTER_LINK, entry)


def unsubscribe_path(entry) -> str:
    header = entry.message["List-Unsubscribe"]
    assert header.startswith("<") and header.endswith(">")
    return urlsplit(header[1:-1]).path


def test_signup_sends_a_confirmation_link_and_nothing_else_until_it_is_used(client, app):
    sign_up(client, app)
    assert subscription(app).status == "pending"
    [mail] = mails_oldest_first(app)
    assert mail.subject == "Please confirm your newsletter subscription"
    assert NEWSLETTER_LINK.search(mail.text)


def test_opening_the_link_changes_nothing_and_the_button_confirms(client, app):
    sign_up(client, app)
    path = confirm_path(mails_oldest_first(app)[0])
    page = client.get(path)
    assert page.status_code == 200 and "Confirm my subscription" in page.get_data(as_text=True)
    assert "j***@example.org" in page.get_data(as_text=True)
    assert subscription(app).status == "pending"
    response = client.post(path, data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert response.status_code == 200 and "You are subscribed" in response.get_data(as_text=True)
    confirmed = subscription(app)
    assert confirmed.status == "confirmed" and confirmed.confirmed_at
    assert confirmed.topics == ["offers", "guides"]
    [submission] = submissions(app, "newsletter")
    assert confirmed.submission_id == submission.id
    assert f"/receipt/{submission.receipt_id}" in response.get_data(as_text=True)


def test_confirmation_link_works_once(client, app):
    sign_up(client, app)
    path = confirm_path(mails_oldest_first(app)[0])
    assert press_button(client, path).status_code == 200
    again = press_button(client, path)
    assert again.status_code == 400 and "not valid" in again.get_data(as_text=True)


def test_a_new_signup_replaces_the_previous_link(client, app):
    sign_up(client, app)
    sign_up(client, app, topics=["site-updates"])
    first, second = mails_oldest_first(app)
    assert press_button(client, confirm_path(first)).status_code == 400
    assert press_button(client, confirm_path(second)).status_code == 200
    assert subscription(app).topics == ["site-updates"]


def test_tampered_link_is_refused(client, app):
    sign_up(client, app)
    path = confirm_path(mails_oldest_first(app)[0])
    token = path.rsplit("/", 1)[1]
    payload, rest = token.split(".", 1)
    tampered = "/newsletter/confirm/" + payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + rest
    assert press_button(client, tampered).status_code == 400
    assert press_button(client, path[:-3]).status_code == 400
    assert subscription(app).status == "pending"


def test_expired_link_is_refused(client, app, monkeypatch):
    real = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: real(self) - 3 * 24 * 3600)
    sign_up(client, app)
    monkeypatch.setattr(TimestampSigner, "get_timestamp", real)
    response = press_button(client, confirm_path(mails_oldest_first(app)[0]))
    assert response.status_code == 400
    assert subscription(app).status == "pending"


def test_duplicate_signups_keep_one_subscription_and_answer_the_same(client, app):
    first = sign_up(client, app)
    press_button(client, confirm_path(mails_oldest_first(app)[0]))
    second = sign_up(client, app)
    fresh = sign_up(client, app, email="new@example.org")
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(Subscription)).scalar_one() == 2
    pages = [client.get(r.headers["Location"]).get_data(as_text=True) for r in (first, second, fresh)]
    # Each page carries its own receipt id and a CSRF token stamped with the second it was made.
    normalised = [
        re.sub(r"<input[^>]*csrf_token[^>]*>", "CSRF", re.sub(r"[0-9a-f-]{36}", "RECEIPT", page)) for page in pages
    ]
    assert normalised[0] == normalised[1] == normalised[2]
    assert subscription(app).status == "confirmed"  # someone else's signup does not end it
    assert len(submissions(app, "newsletter")) == 3


def test_every_newsletter_mail_carries_one_click_unsubscribe_headers(client, app):
    sign_up(client, app)
    press_button(client, confirm_path(mails_oldest_first(app)[0]))
    confirmation, welcome = mails_oldest_first(app)
    assert welcome.subject == "Welcome to the newsletter"
    for entry in (confirmation, welcome):
        assert entry.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert re.fullmatch(r"<https?://[^>]+/newsletter/unsubscribe/[^>]+>", entry.message["List-Unsubscribe"])


def test_one_click_post_without_cookies_or_token_unsubscribes_with_200(app, client):
    sign_up(client, app)
    press_button(client, confirm_path(mails_oldest_first(app)[0]))
    path = unsubscribe_path(mails_oldest_first(app)[-1])
    mail_client = app.test_client()  # a mail provider: no cookies, no CSRF token
    response = mail_client.post(
        path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert "Location" not in response.headers
    found = subscription(app)
    assert found.status == "unsubscribed" and found.unsubscribed_at


def test_opening_the_unsubscribe_link_changes_nothing(app, client):
    sign_up(client, app)
    press_button(client, confirm_path(mails_oldest_first(app)[0]))
    path = unsubscribe_path(mails_oldest_first(app)[-1])
    page = app.test_client().get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<button type="submit">Unsubscribe</button>' in html
    assert subscription(app).status == "confirmed"


def test_unsubscribing_a_pending_address_voids_its_confirmation_link(app, client):
    sign_up(client, app)
    [mail] = mails_oldest_first(app)
    app.test_client().post(unsubscribe_path(mail))
    assert press_button(client, confirm_path(mail)).status_code == 400
    assert subscription(app).status == "unsubscribed"


def test_forged_unsubscribe_token_is_refused(app, client):
    sign_up(client, app)
    response = app.test_client().post("/newsletter/unsubscribe/1.forged.signature")
    assert response.status_code == 400
    assert subscription(app).status == "pending"


def test_a_guessed_unsubscribe_token_is_refused(app, client):
    sign_up(client, app)
    for guess in ("A" * 43, secrets.token_urlsafe(32), "x" * 500):
        response = app.test_client().post(f"/newsletter/unsubscribe/{guess}")
        assert response.status_code == 400
    assert subscription(app).status == "pending"


def test_unsubscribe_endpoint_is_the_only_csrf_exemption(app):
    from webshop.security import csrf

    assert csrf._exempt_views == {"webshop.newsletter.unsubscribe_post"}
    assert csrf._exempt_blueprints == set()


def test_staff_notice_helper_sends_with_unsubscribe_headers(app, client):
    from webshop.newsletter import send_to_subscriber

    sign_up(client, app)
    with app.test_request_context():
        found = db.session.execute(db.select(Subscription)).scalar_one()
        send_to_subscriber(found, "Site update", "We added a chat room.")
    notice = mails_oldest_first(app)[-1]
    assert notice.subject == "Site update"
    assert notice.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/newsletter/unsubscribe/" in notice.text


class TestThroughSMTP:
    @pytest.fixture
    def app_config(self, smtp_server):
        return smtp_server.config

    def test_double_opt_in_through_a_real_smtp_server(self, client, app, smtp_server):
        sign_up(client, app)
        [confirmation] = smtp_server.messages
        assert confirmation["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        path = urlsplit(NEWSLETTER_LINK.search(confirmation.get_content()).group(0)).path
        assert press_button(client, path).status_code == 200
        welcome = smtp_server.messages[-1]
        assert welcome["Subject"] == "Welcome to the newsletter"
        assert welcome["List-Unsubscribe"].startswith("<http")
        assert subscription(app).status == "confirmed"
