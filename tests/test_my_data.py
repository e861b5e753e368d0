""" "Your data" (the policy's access, other-sources and cookies clauses): see, correct, download, erase."""

import json
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select

from tests.support.cart import product_id
from tests.support.forms import FORMS, outbox, send
from tests.support.my_data import (
    CHANGE_LINK,
    JANE,
    NEWSLETTER_LINK,
    access_path,
    mails_to,
    open_access,
    path_in,
    post_on_everything,
    request_link,
    share_all,
)
from tests.support.pages import acknowledge_banner, csrf_token_from, press_button, submit
from webshop import signing
from webshop.cookies import serializer
from webshop.db import db
from webshop.models import (
    AccessLink,
    AuditEvent,
    BoardPost,
    ChatMessage,
    EmailPreference,
    Order,
    ProductRegistration,
    RetiredVisitor,
    Submission,
    Subscription,
    Visit,
)
from webshop.policy_text import POLICY_VERSION
from webshop.rules import mail_audience, notice_audience, shareable_submissions
from webshop.visits import flush
from webshop.visits.writer import encode_line, store_rows

JANE_NAME = "Jane Doe"
KINDS = {"order", "newsletter", "survey", "registration", "contact", "board", "chat"}


# --- Helpers -------------------------------------------------------------------------------------


def submit_every_form(client, app, email=JANE):
    """One submission of each of the seven kinds under ``email``; the newsletter confirmed.

    They are sent with "your data" open for the address, so each is proven
    and may be shared and used as its boxes allow; the access is closed after.
    """
    if client.get_cookie("visitor") is None:
        acknowledge_banner(client)
    open_access(client, app, email)
    for case in FORMS:
        response = send(client, app, case, email=email)
        assert response.status_code == 303, case.kind
    [signup] = mails_to(app, email, "Please confirm your newsletter subscription")
    assert press_button(client, path_in(NEWSLETTER_LINK, signup)).status_code == 200
    assert post_on_everything(client, "/my-data/email/close", {}).status_code == 303


def rows(app, model, *where):
    with app.app_context():
        found = db.session.execute(select(model).where(*where)).scalars().all()
        db.session.expunge_all()
        return found


def audit_lines(app, action):
    with app.app_context():
        return [
            (e.actor, e.detail)
            for e in db.session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars()
        ]


# --- This browser ---------------------------------------------------------------------------------


def test_this_browser_shows_stored_ip_and_every_registered_cookie_decoded(client, app):
    acknowledge_banner(client)
    hush = product_id(app, "hush-anc")
    submit(client, "/product/hush-anc", {"product_id": hush, "quantity": 2}, action="/cart/add")
    page = client.get("/my-data")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<dd id="current-ip">127.0.0.1</dd>' in html
    cart_section = html[html.index('id="cookie-cart"') : html.index('id="cookie-consent"')]
    assert "sent by this browser" in cart_section
    assert re.search(rf"<td>{hush}</td><td>[^<]+</td><td>2</td>", cart_section)
    assert 'class="signature"' in cart_section and "(valid)" in cart_section
    cart_value = client.get_cookie("cart").value
    payload, timestamp, signature = cart_value.rsplit(".", 2)
    assert payload in cart_section and signature in cart_section
    assert f"{POLICY_VERSION}, the current version" in html
    with app.app_context():
        visitor_id = serializer("visitor").loads(client.get_cookie("visitor").value)
    assert f'<dd id="current-visitor">{visitor_id}</dd>' in html
    start = html.index('id="cookie-session"')
    session_section = html[start : html.index("</article>", start)]
    assert "csrf_token" in session_section and "not shown" in session_section
    token = csrf_token_from(html)
    assert html.count(token) == html.count('name="csrf_token"')  # only in the forms, never in the explanation
    for spec in ("cart", "consent", "visitor", "session"):
        assert f'id="cookie-{spec}"' in html


def test_this_browser_lists_its_visits_page_by_page(client, app):
    acknowledge_banner(client)
    for _ in range(25):
        client.get("/")
    first = client.get("/my-data").get_data(as_text=True)
    assert "Page 1 of 2" in first and "visits carry this browser" in first
    second = client.get("/my-data?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in second and "GET /" in second


@pytest.mark.parametrize("signal", [{"Sec-GPC": "1"}, {"DNT": "1"}])
def test_with_a_blocking_signal_the_page_says_nothing_identifying_was_stored(client, app, signal):
    html = client.get("/my-data", headers=signal).get_data(as_text=True)
    assert 'id="blocking-notice"' in html and "nothing identifying was stored" in html
    assert '<dd id="current-ip">none stored</dd>' in html


def test_a_forged_cart_cookie_is_shown_as_not_valid(client, app):
    with app.app_context():
        good = serializer("cart").dumps([[1, 1]])
    client.set_cookie("cart", good[:-2] + ("AA" if not good.endswith("AA") else "BB"))
    html = client.get("/my-data").get_data(as_text=True)
    cart_section = html[html.index('id="cookie-cart"') : html.index('id="cookie-consent"')]
    assert "(not valid)" in cart_section and "read as an empty cart" in cart_section


# --- Asking for a link --------------------------------------------------------------------------------


def without_token(body: bytes) -> bytes:
    html = body.decode()
    return html.replace(csrf_token_from(html), "").encode() if "csrf_token" in html else body


def test_known_and_unknown_addresses_get_the_identical_answer(client, app):
    submit_every_form(client, app)
    answers = []
    for email in (JANE, "nobody-here@example.net"):
        browser = app.test_client()  # two browsers in the same state, one address each
        response = request_link(browser, email)
        page = browser.get(response.headers["Location"])
        answers.append(
            (
                response.status_code,
                response.headers["Location"],
                without_token(response.get_data()),
                page.status_code,
                without_token(page.get_data()),
            )
        )
        assert mails_to(app, email, "Your data: your link"), email  # a link goes to both
    assert answers[0] == answers[1]
    assert b"If we hold anything under that" in answers[0][4]


def test_an_invalid_address_is_refused_with_the_value_kept(client, app):
    response = request_link(client, "not an address")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'value="not an address"' in html and 'role="alert"' in html
    assert not outbox(app)


def test_links_to_one_address_are_not_sent_more_than_once_a_minute(client, app):
    for _ in range(3):
        assert request_link(client, JANE).status_code == 303
    assert len(mails_to(app, JANE, "Your data: your link")) == 1


# --- Following the link ----------------------------------------------------------------------------------


def test_the_link_shows_every_submission_of_every_kind_with_its_details(client, app):
    submit_every_form(client, app)
    shared_ids = share_all(app)
    page = open_access(client, app)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "private, no-store"
    kinds = set(re.findall(r'data-kind="([a-z]+)"', html))
    assert kinds == KINDS
    for submission in rows(app, Submission, Submission.email == JANE):
        article = html[html.index(f'id="submission-{submission.id}"') :]
        article = article[: article.index("</article>")]
        assert f"/receipt/{submission.receipt_id}" in article
        assert "IP address 127.0.0.1" in article
        assert "Marketing: <strong>allowed" in article
        assert "linked through visitor id" in article
        if submission.id in shared_ids:
            assert "Partner Marketing Ltd (third party)" in article and "Their spring campaign" in article
        else:
            assert '<dd class="ledger">nobody</dd>' in article
    assert shared_ids
    assert "Newsletter: confirmed" in html
    assert "Do you ship to Mars?" in html and "SN-12345" in html and "1 Loopback Lane" in html


def test_each_submission_shows_its_own_choices(client, app):
    case = next(c for c in FORMS if c.kind == "survey")
    send(client, app, case, no_marketing="y")
    send(client, app, case, no_share="y")
    html = open_access(client, app).get_data(as_text=True)
    choices = re.findall(r'<dd class="choices">(.*?)</dd>', html, re.S)
    assert len(choices) == 2
    assert "no (you opted out)" in choices[0] and "sharing: <strong>allowed" in choices[0]
    assert "Marketing: <strong>allowed" in choices[1] and "sharing: <strong>no" in choices[1]


def test_an_address_with_nothing_held_sees_that_after_the_link(client, app):
    html = open_access(client, app, "stranger@example.net").get_data(as_text=True)
    assert 'id="nothing-held"' in html


def test_opening_the_link_changes_nothing_until_the_button(client, app):
    path = access_path(client, app)
    assert client.get(path).status_code == 200
    assert client.get(path).status_code == 200  # a mail scanner's look uses nothing
    assert client.get("/my-data/email").status_code == 303
    assert press_button(client, path).status_code == 303
    assert client.get("/my-data/email").status_code == 200


def bad_tokens(client, app, monkeypatch):
    """A link that was used, one altered, one expired and ones signed for something else."""
    used = access_path(client, app)
    assert press_button(client, used).status_code == 303
    assert post_on_everything(client, "/my-data/email/close", {}).status_code == 303

    good_path = access_path(client, app, "other@example.org")
    token = good_path.rsplit("/", 1)[1]
    tampered = token[:-3] + ("abc" if token[-3:] != "abc" else "xyz")

    real_timestamp = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: real_timestamp(self) - 2 * 3600)
    expired = access_path(client, app, "late@example.org")
    monkeypatch.undo()

    with app.app_context():
        link = db.session.execute(select(AccessLink).where(AccessLink.email == "other@example.org")).scalar_one()
        payload = {"link": link.id, "nonce": link.nonce}
        foreign = [signing.serializer(salt).dumps(payload) for salt in ("email-change", "newsletter-confirm")]
        foreign.append(serializer("cart").dumps(payload))
    return {
        "reused": used,
        "tampered": f"/my-data/open/{tampered}",
        "expired": expired,
        **{f"foreign-salt-{i}": f"/my-data/open/{t}" for i, t in enumerate(foreign)},
        "garbage": "/my-data/open/not-a-token",
    }


def test_reused_tampered_expired_and_foreign_salt_links_fail_cleanly(client, app, monkeypatch):
    for name, path in bad_tokens(client, app, monkeypatch).items():
        page = client.get(path)
        assert page.status_code == 400, name
        assert "This link is not valid" in page.get_data(as_text=True), name
        token = csrf_token_from(client.get("/my-data").get_data(as_text=True))
        posted = client.post(path, data={"csrf_token": token})
        assert posted.status_code == 400, name
        assert client.get("/my-data/email").status_code == 303, name  # nothing was granted


def test_access_ends_after_its_time(client, app):
    open_access(client, app)
    with app.app_context():
        link = db.session.execute(select(AccessLink).where(AccessLink.used_at.is_not(None))).scalar_one()
        link.used_at -= timedelta(seconds=app.config["MY_DATA_SESSION_MAX_AGE"] + 1)
        db.session.commit()
    response = client.get("/my-data/email")
    assert response.status_code == 303 and response.headers["Location"].startswith("/my-data")


def test_closing_access_ends_it_for_every_copy_of_the_session(client, app):
    open_access(client, app)
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    assert copy.get("/my-data/email").status_code == 200
    assert post_on_everything(client, "/my-data/email/close", {}).status_code == 303
    assert copy.get("/my-data/email").status_code == 303


# --- Safety --------------------------------------------------------------------------------------------

STATE_CHANGES = [
    ("/my-data/link", {"email": JANE}),
    ("/my-data/email/details", {"name": "Someone Else"}),
    ("/my-data/email/address", {"new_email": "evil@example.net"}),
    ("/my-data/email/preferences", {"sharing_off": "y"}),
    ("/my-data/email/unsubscribe", {}),
    ("/my-data/email/erase", {"confirm": "y"}),
    ("/my-data/email/close", {}),
]


def test_every_state_change_needs_the_csrf_token(client, app):
    submit_every_form(client, app)
    open_access(client, app)
    before = len(outbox(app))
    for action, data in STATE_CHANGES:
        response = client.post(action, data=data)
        assert response.status_code == 400, action
        assert client.get("/my-data/email").status_code == 200, action  # still open, nothing erased
    assert len(rows(app, Submission, Submission.email == JANE)) == 7
    assert [s.name for s in rows(app, Submission, Submission.kind == "contact")] == [JANE_NAME]
    assert rows(app, EmailPreference) == []
    assert rows(app, Subscription)[0].status == "confirmed"
    assert len(outbox(app)) == before


@pytest.mark.parametrize(
    "path", ["/my-data", "/my-data/link/sent", "/my-data/email", "/my-data/email/download", "/my-data/erased"]
)
def test_every_your_data_page_is_private_and_never_stored(client, app, path):
    open_access(client, app)
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "Cookie" in response.headers["Vary"]


def test_header_links_to_your_data(client, app):
    assert '<a href="/my-data">Your data</a>' in client.get("/").get_data(as_text=True)


# --- Correcting ------------------------------------------------------------------------------------------


def test_name_and_postal_address_are_corrected_and_the_change_audited(client, app):
    submit_every_form(client, app)
    open_access(client, app)
    response = post_on_everything(
        client, "/my-data/email/details", {"name": "Jane Q. Doe", "address": "7 New Street, Port 4000"}
    )
    assert response.status_code == 303
    html = client.get("/my-data/email").get_data(as_text=True)
    assert "Corrected on" in html and "7 New Street, Port 4000" in html
    [order] = rows(app, Order)
    assert (order.name, order.address) == ("Jane Q. Doe", "7 New Street, Port 4000")
    by_kind = {s.kind: s for s in rows(app, Submission, Submission.email == JANE)}
    assert by_kind["registration"].name == by_kind["contact"].name == "Jane Q. Doe"
    assert by_kind["contact"].fields["name"] == "Jane Q. Doe"
    assert by_kind["order"].fields["address"] == "7 New Street, Port 4000"
    assert by_kind["board"].name == "Jane"  # a display name chosen for the board stays
    [(actor, detail)] = audit_lines(app, "my-data.corrected")
    assert actor == "visitor" and "Jane" not in json.dumps(detail) and "New Street" not in json.dumps(detail)
    assert by_kind["order"].id in detail["submissions"]


def test_a_new_email_changes_nothing_until_confirmed_from_the_new_address(client, app):
    submit_every_form(client, app)
    [before] = rows(app, Subscription)
    old_unsubscribe = f"/newsletter/unsubscribe/{before.unsubscribe_token}"
    open_access(client, app)
    response = post_on_everything(client, "/my-data/email/address", {"new_email": "jane.new@example.org"})
    assert response.status_code == 303
    [mail] = mails_to(app, "jane.new@example.org", "Confirm your new email address")
    assert len(rows(app, Submission, Submission.email == JANE)) == 7  # not yet
    assert "jane.new" not in json.dumps([d for _, d in audit_lines(app, "my-data.email-change-requested")])

    path = path_in(CHANGE_LINK, mail)
    confirm_page = client.get(path).get_data(as_text=True)
    assert "7 submissions and 1 order" in confirm_page and "j***@example.org to j***@example.org" in confirm_page
    confirmed = press_button(client, path)
    assert confirmed.status_code == 303
    assert rows(app, Submission, Submission.email == JANE) == []
    assert len(rows(app, Submission, Submission.email == "jane.new@example.org")) == 7
    [order] = rows(app, Order)
    assert order.email == "jane.new@example.org"
    [subscription] = rows(app, Subscription)
    assert subscription.email == "jane.new@example.org" and subscription.status == "confirmed"
    # Mail already sent to the old address can no longer unsubscribe the new one.
    assert app.test_client().post(old_unsubscribe).status_code == 400
    assert rows(app, Subscription)[0].status == "confirmed"
    # The grant proved the old address only: it has ended, and the new address takes its own link.
    assert client.get("/my-data/email").headers["Location"] == "/my-data#by-email"
    html = open_access(client, app, "jane.new@example.org").get_data(as_text=True)
    assert '<span id="held-email">jane.new@example.org</span>' in html
    assert press_button(client, path).status_code == 400  # the link worked once
    [(_, detail)] = audit_lines(app, "my-data.email-changed")
    assert detail == {"submissions": 7, "orders": 1, "links_ended": 2}  # the grant and the change link


VICTIM = "victor@example.net"
VICTIM_NAME = "Victor Owner"
VICTIM_ADDRESS = "9 Victim Road, Elsewhere 1234"


def test_moving_to_someone_elses_address_never_shows_their_records(client, app):
    victim = app.test_client()
    checkout = next(case for case in FORMS if case.kind == "order")
    placed = send(victim, app, checkout, email=VICTIM, name=VICTIM_NAME, address=VICTIM_ADDRESS)
    assert placed.status_code == 303
    contact = next(case for case in FORMS if case.kind == "contact")
    assert send(client, app, contact).status_code == 303  # the attacker's one record, under their own address
    first_link = access_path(client, app)
    assert press_button(client, first_link).status_code == 303
    response = post_on_everything(client, "/my-data/email/address", {"new_email": VICTIM})
    assert response.status_code == 303

    # The victim's mailbox gets the link; the page says what moves where, and hides nothing about the victim.
    [mail] = mails_to(app, VICTIM, "Confirm your new email address")
    path = path_in(CHANGE_LINK, mail)
    page = victim.get(path).get_data(as_text=True)
    assert "1 submission and 0 orders" in page and "j***@example.org to v***@example.net" in page
    assert "not</strong> shown to" in page and VICTIM_NAME not in page and VICTIM_ADDRESS not in page
    assert press_button(victim, path).status_code == 303
    assert len(rows(app, Submission, Submission.email == VICTIM)) == 2

    # The attacker's browser sees nothing of the victim, and its old grant and link open nothing.
    for url in ("/my-data/email", "/my-data/email/download"):
        ended = client.get(url)
        assert VICTIM_NAME not in ended.get_data(as_text=True), url
        assert ended.status_code == 303 and ended.headers["Location"] == "/my-data#by-email", url
    for url in ("/my-data", "/privacy"):
        html = client.get(url).get_data(as_text=True)
        for secret in (VICTIM_NAME, VICTIM_ADDRESS, VICTIM, "v***@example.net"):
            assert secret not in html, (url, secret)
    assert client.get(first_link).status_code == 400
    assert rows(app, AccessLink, AccessLink.email == JANE) == []


def test_changing_to_the_same_address_is_refused(client, app):
    open_access(client, app)
    response = post_on_everything(client, "/my-data/email/address", {"new_email": JANE})
    assert response.status_code == 400
    assert "the address you already use" in response.get_data(as_text=True)


# --- Preferences going forward --------------------------------------------------------------------------------


def shareable_emails(app):
    with app.app_context():
        return [s.email for s in db.session.execute(shareable_submissions()).scalars()]


def audience(app):
    """Who may get mail on "offers", a topic the forms' newsletter signup chose (site updates it did not)."""
    with app.app_context():
        assert JANE not in [s.email for s in db.session.execute(notice_audience()).scalars()]
        return [s.email for s in db.session.execute(mail_audience("offers")).scalars()]


def test_sharing_off_keeps_every_record_out_of_later_exports_and_back_on_restores(client, app):
    submit_every_form(client, app)
    other = app.test_client()
    open_access(other, app, "sam@example.org")  # sam proves his address by sending it with "your data" open
    send(other, app, next(c for c in FORMS if c.kind == "survey"), email="sam@example.org")
    assert shareable_emails(app).count(JANE) == 7
    open_access(client, app)
    post_on_everything(client, "/my-data/email/preferences", {"sharing_off": "y"})
    assert shareable_emails(app) == ["sam@example.org"]
    assert audience(app) == [JANE]  # marketing mail is a separate choice
    html = client.get("/my-data/email").get_data(as_text=True)
    assert "sharing off" in html and html.count("is not shared in a marketing export") == 7
    post_on_everything(client, "/my-data/email/preferences", {})
    assert shareable_emails(app).count(JANE) == 7


def test_marketing_off_removes_the_address_from_site_update_notices(client, app):
    submit_every_form(client, app)
    assert audience(app) == [JANE]
    open_access(client, app)
    post_on_everything(client, "/my-data/email/preferences", {"marketing_off": "y"})
    assert audience(app) == []
    assert shareable_emails(app).count(JANE) == 7
    [(actor, detail)] = audit_lines(app, "my-data.preferences")
    assert detail == {"marketing_off": True, "sharing_off": False}


def test_turning_sharing_back_on_never_overrides_a_box_ticked_on_a_form(client, app):
    case = next(c for c in FORMS if c.kind == "contact")
    send(client, app, case, no_share="y")
    open_access(client, app)
    post_on_everything(client, "/my-data/email/preferences", {"sharing_off": "y"})
    post_on_everything(client, "/my-data/email/preferences", {})
    assert shareable_emails(app) == []


def test_unsubscribing_here_ends_newsletter_mail(client, app):
    submit_every_form(client, app)
    open_access(client, app)
    assert post_on_everything(client, "/my-data/email/unsubscribe", {}).status_code == 303
    [subscription] = rows(app, Subscription)
    assert subscription.status == "unsubscribed"
    assert audience(app) == []
    assert "Newsletter: unsubscribed" in client.get("/my-data/email").get_data(as_text=True)


# --- Download -------------------------------------------------------------------------------------------------


def test_download_is_one_json_document_with_everything_and_the_receipts(client, app):
    submit_every_form(client, app)
    shared_ids = share_all(app)
    open_access(client, app)
    response = client.get("/my-data/email/download")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == 'attachment; filename="my-data.json"'
    document = json.loads(response.get_data())
    assert document["email"] == JANE
    assert document["newsletter"]["status"] == "confirmed"
    assert document["preferences"] == {"marketingOff": False, "sharingOff": False}
    submissions = {s["kind"]: s for s in document["submissions"]}
    assert set(submissions) == KINDS
    for item in document["submissions"]:
        assert item["receipt"]["consentReceiptID"]
        assert item["receipt"]["version"] == "KI-CR-v1.1.0"
        assert item["recorded"]["ip"] == "127.0.0.1" and item["recorded"]["visitorId"]
        assert item["email"] == JANE
        if item["id"] in shared_ids:
            assert item["sharedWith"][0]["recipient"] == "Partner Marketing Ltd"
    assert submissions["order"]["order"]["address"] == "1 Loopback Lane, Localhost"
    assert submissions["order"]["order"]["lines"][0]["quantity"] == 1
    assert submissions["registration"]["registration"]["serialNumber"] == "SN-12345"
    assert submissions["board"]["boardPost"]["body"] == "Great shop!"
    assert submissions["chat"]["chatMessage"]["body"] == "Hello, room!"
    assert submissions["contact"]["fields"]["message"] == "Do you ship to Mars?"
    visitor_ids = {s["recorded"]["visitorId"] for s in document["submissions"]}
    assert document["visits"] and {v["visitorId"] for v in document["visits"]} <= visitor_ids


# --- Erasure ----------------------------------------------------------------------------------------------------


def test_erasure_needs_an_explicit_confirmation(client, app):
    submit_every_form(client, app)
    open_access(client, app)
    response = post_on_everything(client, "/my-data/email/erase", {})
    assert response.status_code == 400
    assert "Tick the box to confirm the erasure" in response.get_data(as_text=True)
    assert len(rows(app, Submission, Submission.email == JANE)) == 7


def erase_everything(client, app):
    submit_every_form(client, app)
    share_all(app)
    html = open_access(client, app).get_data(as_text=True)
    visitor_ids = set(re.findall(r"linked through visitor id ([A-Za-z0-9_-]+)", html))
    assert visitor_ids
    response = post_on_everything(client, "/my-data/email/erase", {"confirm": "y"})
    assert response.status_code == 303 and response.headers["Location"] == "/my-data/erased"
    return visitor_ids


def test_erasure_removes_everything_under_the_address_and_keeps_orders_anonymised(client, app):
    visitor_ids = erase_everything(client, app)
    page = client.get("/my-data/erased").get_data(as_text=True)
    assert "Erased: 7 submissions" in page
    assert client.get("/my-data/email").status_code == 303  # access ended with the data

    assert rows(app, Submission, Submission.email == JANE) == []
    erased = rows(app, Submission)
    assert len(erased) == 7 and all(s.erased_at for s in erased)
    for s in erased:
        assert (s.email, s.name, s.ip, s.domain, s.visitor_id, s.fields) == (None, None, None, None, None, {})
    [order] = rows(app, Order)
    assert (order.name, order.email, order.address) == (None, None, None)
    assert order.number.startswith("WS-") and order.total_cents > 0
    assert [p.body for p in rows(app, BoardPost)] == ["Deleted by its author."]
    assert [m.body for m in rows(app, ChatMessage)] == ["Deleted by its author."]
    assert "Great shop!" not in client.get("/board").get_data(as_text=True)
    assert rows(app, ProductRegistration) == []
    assert rows(app, Subscription) == [] and rows(app, EmailPreference) == [] and rows(app, AccessLink) == []
    flush(app)
    assert rows(app, Visit, Visit.visitor_id.in_(visitor_ids)) == []
    assert audience(app) == [] and shareable_emails(app) == []
    assert not [m for m in outbox(app) if JANE in (m.to + str(m.message["Reply-To"] or ""))]
    [(actor, detail)] = audit_lines(app, "my-data.erased")
    assert actor == "visitor" and detail["submissions"] == 7 and detail["orders"] == 1
    assert "jane" not in json.dumps(detail).lower()
    for submission in erased:
        assert client.get(f"/receipt/{submission.receipt_id}").status_code == 410


def test_after_erasure_this_browser_gets_a_new_visitor_id(client, app):
    acknowledge_banner(client)
    with app.app_context():
        before = serializer("visitor").loads(client.get_cookie("visitor").value)
    erase_everything(client, app)
    with app.app_context():
        after = serializer("visitor").loads(client.get_cookie("visitor").value)
    assert after != before


def database_bytes(database) -> bytes:
    db_file = Path(database.removeprefix("sqlite:///"))
    wal = db_file.with_name(db_file.name + "-wal")
    return db_file.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


@pytest.mark.only_database("sqlite")
def test_erased_data_is_gone_from_the_sqlite_file_and_its_wal(client, app, database):
    traces = [JANE.encode(), JANE_NAME.encode(), b"Do you ship to Mars?", b"SN-12345", b"1 Loopback Lane"]
    submit_every_form(client, app)
    held = database_bytes(database)
    assert all(trace in held for trace in traces)  # the search below can find them
    open_access(client, app)
    assert post_on_everything(client, "/my-data/email/erase", {"confirm": "y"}).status_code == 303
    flush(app)
    left = database_bytes(database)
    for trace in traces:
        assert trace not in left, f"{trace!r} is still in the database files"


def test_erasing_an_address_keeps_the_mail_of_an_address_that_contains_it(client, app):
    for email in ("a@b.example", "xa@b.example"):
        assert request_link(client, email).status_code == 303
    assert mails_to(app, "xa@b.example", "Your data: your link")
    open_access(client, app, "a@b.example")
    assert post_on_everything(client, "/my-data/email/erase", {"confirm": "y"}).status_code == 303
    assert mails_to(app, "a@b.example") == []
    assert len(mails_to(app, "xa@b.example", "Your data: your link")) == 1


def test_a_request_still_carrying_an_erased_visitor_id_is_recorded_without_it(client, app):
    acknowledge_banner(client)
    old_cookie = client.get_cookie("visitor").value
    with app.app_context():
        old_id = serializer("visitor").loads(old_cookie)
    erase_everything(client, app)
    copy = app.test_client()
    copy.set_cookie("consent", client.get_cookie("consent").value)
    copy.set_cookie("visitor", old_cookie)
    response = copy.get("/?replayed=1")
    assert response.status_code == 200
    with app.app_context():
        new_id = serializer("visitor").loads(copy.get_cookie("visitor").value)
    assert new_id != old_id
    flush(app)
    [replayed] = rows(app, Visit, Visit.query == "replayed=1")
    assert replayed.visitor_id == new_id
    assert rows(app, Visit, Visit.visitor_id == old_id) == []
    with app.app_context():
        stored = db.session.execute(select(RetiredVisitor.id_hash)).scalars().all()
    assert stored and old_id not in stored  # kept as a hash, never in plain form


def spooled_row(visitor_id, path, when=None) -> dict:
    """A visit line as a worker writes it to its spool."""
    return {
        "time": (when or time.time()),
        "ip": "192.0.2.7",
        "domain": None,
        "domain_confirmed": False,
        "method": "GET",
        "path": path,
        "query": "q=orphan",
        "protocol": "HTTP/1.1",
        "status": 200,
        "response_bytes": 10,
        "response_ms": 1.0,
        "user_agent": "Orphan/1.0",
        "referrer": None,
        "visitor_id": visitor_id,
        "blocking_signal": False,
        "uid": secrets.token_hex(16),
    }


def test_erasure_reaches_a_dead_workers_spool_and_keeps_its_other_rows(client, app, runner, instance_path):
    acknowledge_banner(client)
    with app.app_context():
        erased_id = serializer("visitor").loads(client.get_cookie("visitor").value)
    orphan = instance_path / "visit-spool" / "999999-0badf00d.jsonl"  # no process holds its lock
    orphan.parent.mkdir(exist_ok=True)
    lines = [spooled_row(erased_id, "/orphan-erased"), spooled_row("someone-else-entirely", "/orphan-kept")]
    orphan.write_bytes(b"".join(encode_line(row) for row in lines))
    erase_everything(client, app)
    if orphan.exists():  # else a writer's sweep stored it first, and the erasure deleted its row
        left = orphan.read_bytes()
        assert erased_id.encode() not in left and b"/orphan-erased" not in left
        assert b"/orphan-kept" in left and len(left) == sum(len(encode_line(row)) for row in lines)
    assert runner.invoke(args=["visits", "purge", "--older-than", "3650"]).exit_code == 0  # stores orphans
    assert not orphan.exists()
    assert [v.path for v in rows(app, Visit, Visit.path.like("/orphan-%"))] == ["/orphan-kept"]


def test_spooled_rows_of_a_retired_id_never_reach_the_database(client, app):
    acknowledge_banner(client)
    with app.app_context():
        erased_id = serializer("visitor").loads(client.get_cookie("visitor").value)
    erase_everything(client, app)
    # Rows another worker read from its spool before the erasure, stored after it.
    before = spooled_row(erased_id, "/late-before", time.time() - 60)
    after = spooled_row(erased_id, "/late-after", time.time() + 60)  # a request under way as the id retired
    for row in (before, after):
        row["time"] = datetime.fromtimestamp(row["time"], UTC).replace(tzinfo=None)
    assert store_rows(app, [before, after]) == 2
    [stored] = rows(app, Visit, Visit.path.like("/late-%"))
    assert (stored.path, stored.visitor_id) == ("/late-after", None)


def test_visit_rows_set_aside_by_the_database_survive_spool_recovery(app, runner, instance_path):
    rejected = instance_path / "visit-spool" / "rejected.jsonl"
    rejected.parent.mkdir(exist_ok=True)
    rejected.write_text('{"uid": "refused", "time": "2026-01-01 00:00:00"}\n')
    assert runner.invoke(args=["visits", "purge", "--older-than", "3650"]).exit_code == 0
    assert rejected.read_text() == '{"uid": "refused", "time": "2026-01-01 00:00:00"}\n'
