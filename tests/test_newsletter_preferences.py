"""The newsletter preference centre: topics in place, pause, unsubscribe, the opt-in time and IP; notices by topic."""

import logging
import re

import pytest

from tests.support.forms import sign_up
from tests.support.my_data import NEWSLETTER_LINK, mails_to, open_access, path_in
from tests.support.pages import csrf_token_from, submit
from tests.support.staff import signed_in, submission
from webshop.db import db
from webshop.models import AuditEvent, Subscription, utcnow

PREFERENCES_LINK = re.compile(r"http://localhost(/newsletter/preferences/[A-Za-z0-9_-]+)")


def subscriber(email, topics, **values):
    row = submission("newsletter", email, proven_at=utcnow())
    db.session.add(row)
    db.session.flush()
    found = Subscription(email=email, status=Subscription.CONFIRMED, submission_id=row.id, topics=topics, **values)
    db.session.add(found)
    return found


def token_of(app, email):
    with app.app_context():
        return db.session.execute(
            db.select(Subscription.unsubscribe_token).where(Subscription.email == email)
        ).scalar_one()


def row(app, email):
    with app.app_context():
        found = db.session.execute(db.select(Subscription).where(Subscription.email == email)).scalar_one()
        db.session.expunge_all()
        return found


def post(client, path, data=None):
    page = client.get(path.rsplit("/", 1)[0] if path.count("/") > 3 else path).get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_token_from(page), **(data or {})})


def send_notice(client, subject="We moved the chat"):
    response = submit(client, "/admin/notices", {"subject": subject, "body": "New home.", "action": "save"})
    notice_url = response.headers["Location"]
    page = client.get(notice_url).get_data(as_text=True)
    number = notice_url.rsplit("/", 1)[1]
    client.post(f"/admin/notices/{number}/send", data={"csrf_token": csrf_token_from(page)})


class TestNotices:
    @pytest.fixture
    def app_config(self, smtp_server):
        return {**smtp_server.config, "VISITS_ENABLED": False}

    def test_notices_reach_only_unpaused_subscribers_who_chose_site_updates(self, app, client, smtp_server):
        with app.app_context():
            subscriber("updates@example.org", ["offers", "site-updates"])
            subscriber("offers@example.org", ["offers"])
            subscriber("paused@example.org", ["site-updates"], paused_at=utcnow())
            db.session.commit()
        signed_in(app, client)
        assert '<strong id="audience-count">1</strong>' in client.get("/admin/notices").get_data(as_text=True)
        send_notice(client)
        assert [r for [r] in smtp_server.recipients] == ["updates@example.org"]
        [message] = smtp_server.messages
        link = f"http://localhost/newsletter/preferences/{token_of(app, 'updates@example.org')}"
        assert link in message.get_content()

    def test_topics_changed_on_the_page_take_effect_for_the_next_notice(self, app, client, smtp_server):
        with app.app_context():
            subscriber("offers@example.org", ["offers"])
            db.session.commit()
        path = f"/newsletter/preferences/{token_of(app, 'offers@example.org')}"
        visitor = app.test_client()
        response = post(visitor, f"{path}/topics", {"topics": ["offers", "site-updates"]})
        assert response.status_code == 303
        assert "Your topics are saved." in visitor.get(path).get_data(as_text=True)
        assert row(app, "offers@example.org").topics == ["offers", "site-updates"]
        signed_in(app, client)
        send_notice(client)
        assert [r for [r] in smtp_server.recipients] == ["offers@example.org"]

        assert post(visitor, f"{path}/pause").status_code == 303
        send_notice(client, "Second")
        assert len(smtp_server.messages) == 1
        assert "paused" in visitor.get(path).get_data(as_text=True)
        assert post(visitor, f"{path}/resume").status_code == 303
        send_notice(client, "Third")
        assert [m["Subject"] for m in smtp_server.messages] == ["We moved the chat", "Third"]
        with app.app_context():
            actions = db.session.execute(db.select(AuditEvent.action)).scalars().all()
        assert {"newsletter.topics-changed", "newsletter.paused", "newsletter.resumed"} <= set(actions)


def confirm(client, app, **headers):
    sign_up(client, app)
    [entry] = mails_to(app, "jane@example.org")
    path = path_in(NEWSLETTER_LINK, entry)
    page = client.get(path, headers=headers).get_data(as_text=True)
    environ = {"REMOTE_ADDR": "203.0.113.7"}
    return client.post(path, data={"csrf_token": csrf_token_from(page)}, headers=headers, environ_base=environ)


def test_confirmation_records_time_and_ip_and_links_the_preference_centre(app, client):
    response = confirm(client, app)
    found = row(app, "jane@example.org")
    assert found.confirmed_at and found.confirmed_ip == "203.0.113.7"
    path = f"/newsletter/preferences/{found.unsubscribe_token}"
    assert path in response.get_data(as_text=True)
    welcome = mails_to(app, "jane@example.org")[0]
    assert welcome.subject == "Welcome to the newsletter" and path in welcome.text
    page = client.get(path)
    assert "203.0.113.7" in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer" and "no-store" in page.headers["Cache-Control"]


def test_confirmation_under_a_blocking_signal_stores_no_ip(app, client):
    confirm(client, app, **{"Sec-GPC": "1"})
    found = row(app, "jane@example.org")
    assert found.confirmed_at and found.confirmed_ip is None
    page = client.get(f"/newsletter/preferences/{found.unsubscribe_token}").get_data(as_text=True)
    assert "no IP address was stored" in page


def test_unsubscribing_from_the_page_ends_the_subscription(app, client):
    with app.app_context():
        subscriber("jane@example.org", ["guides"])
        db.session.commit()
    path = f"/newsletter/preferences/{token_of(app, 'jane@example.org')}"
    assert post(client, f"{path}/unsubscribe").status_code == 303
    assert row(app, "jane@example.org").status == "unsubscribed"
    page = client.get(path).get_data(as_text=True)
    assert "unsubscribed" in page and "sign up again" in page and "Save my topics" not in page
    refused = post(client, f"{path}/topics", {"topics": ["offers"]})
    assert refused.status_code == 409 and row(app, "jane@example.org").topics == ["guides"]


def test_choosing_no_topic_is_refused_with_a_message(app, client):
    with app.app_context():
        subscriber("jane@example.org", ["guides"])
        db.session.commit()
    path = f"/newsletter/preferences/{token_of(app, 'jane@example.org')}"
    response = post(client, f"{path}/topics", {})
    assert response.status_code == 400 and "Choose at least one topic" in response.get_data(as_text=True)
    assert row(app, "jane@example.org").topics == ["guides"]


def test_a_tampered_token_is_a_404_and_changes_nobody(app, client):
    with app.app_context():
        subscriber("jane@example.org", ["guides"])
        subscriber("john@example.org", ["offers"])
        db.session.commit()
    token = token_of(app, "jane@example.org")
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    page = client.get(f"/newsletter/preferences/{tampered}")
    assert page.status_code == 404 and "No newsletter preferences" in page.get_data(as_text=True)
    # A CSRF token from John's page does not open Jane's for a forged token.
    john = f"/newsletter/preferences/{token_of(app, 'john@example.org')}"
    csrf = csrf_token_from(client.get(john).get_data(as_text=True))
    forged = client.post(f"/newsletter/preferences/{tampered}/topics", data={"csrf_token": csrf, "topics": ["offers"]})
    assert forged.status_code == 404 and row(app, "jane@example.org").topics == ["guides"]
    assert client.get(f"/newsletter/preferences/{'x' * 5000}").status_code == 404


def test_the_token_never_appears_in_log_lines(app, client, caplog):
    with app.app_context():
        subscriber("jane@example.org", ["guides"])
        db.session.commit()
    token = token_of(app, "jane@example.org")
    with caplog.at_level(logging.INFO):
        client.get(f"/newsletter/preferences/{token}")
        post(client, f"/newsletter/preferences/{token}/pause")
    assert caplog.records and not any(token in r.getMessage() for r in caplog.records)


def test_my_data_shows_the_topics_now_beside_the_signups_choice(app, client):
    response = confirm(client, app)
    assert response.status_code == 200
    path = f"/newsletter/preferences/{token_of(app, 'jane@example.org')}"
    assert post(client, f"{path}/topics", {"topics": ["site-updates"]}).status_code == 303
    page = open_access(client, app).get_data(as_text=True)
    assert "topics now: site-updates; chosen at signup: offers, guides" in page
    assert "from 203.0.113.7" in page
