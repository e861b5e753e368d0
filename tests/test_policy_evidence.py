"""Each "see it in practice" panel of /privacy shows this visitor's live data, with and without GPC."""

import html
import re
import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event, select

from tests.support.cart import product_id
from tests.support.dns import wait_for_lookup
from tests.support.forms import outbox
from tests.support.pages import csrf_token_from, element_text, submit, text_of
from webshop import visits
from webshop.cookies import serializer
from webshop.db import db
from webshop.models import (
    AccessLink,
    LedgerEntry,
    LedgerItem,
    Notice,
    NoticeDelivery,
    Recipient,
    Submission,
    Visit,
    new_receipt_id,
    utcnow,
)
from webshop.policy_text import POLICY_VERSION
from webshop.rules import SHARING, shareable_submissions
from webshop.text import plural

ADDRESS = {"REMOTE_ADDR": "127.0.0.77"}


def section(page: str, clause: str) -> str:
    start = page.index(f'<section id="{clause}"')
    return page[start : page.index("</section>", start)]


def policy(client, **kwargs) -> str:
    response = client.get("/privacy", **kwargs)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def acknowledge(client, **kwargs):
    response = submit(client, "/", {"next": "/", "choice": "accept"}, action="/consent", **kwargs)
    assert response.status_code == 303


def add_submission(kind="newsletter", email="a@example.org", **values) -> Submission:
    submission = Submission(
        receipt_id=new_receipt_id(), kind=kind, email=email, fields={}, policy_version=POLICY_VERSION, **values
    )
    db.session.add(submission)
    return submission


def test_collect_ip_panel_shows_the_address_of_this_request_and_its_stored_visits(app, client):
    page = policy(client, environ_base=ADDRESS)
    assert element_text(page, "evidence-ip") == "127.0.0.77"
    assert "none yet" in element_text(page, "evidence-visitor")
    assert "switched off" in element_text(page, "evidence-domain")  # the suite's default: RDNS_ENABLED off
    acknowledge(client, environ_base=ADDRESS)
    client.get("/product/hush-anc", environ_base=ADDRESS)
    page = policy(client, environ_base=ADDRESS)
    visitor_id = element_text(page, "evidence-visitor")
    with app.app_context():
        visits.flush(app)
        stored = db.session.execute(select(Visit).where(Visit.visitor_id == visitor_id)).scalars().all()
    assert stored and all(v.ip == "127.0.0.77" for v in stored)
    panel = section(page, "collect-ip")
    # The visits stored before this page was made: the product page (the consent POST came before the id).
    earlier = len(stored) - 1
    stored_text = f"{plural(earlier, 'visit')} {'is' if earlier == 1 else 'are'} stored under this browser's visitor id"
    assert stored_text in text_of(panel)
    assert "GET /product/hush-anc" in text_of(panel)


class TestWithReverseDNS:
    @pytest.fixture
    def app_config(self, dns_server):
        return dns_server.config

    def test_collect_ip_panel_shows_the_domain_and_whether_it_is_confirmed(self, app, client):
        expected = {
            "127.0.0.23": "shopper23.loopback.test, confirmed (its forward lookup contains your address)",
            "127.0.0.24": "bank.spoofed.test, not confirmed (its forward lookup does not contain your address)",
        }
        for ip, domain in expected.items():
            first = element_text(policy(client, environ_base={"REMOTE_ADDR": ip}), "evidence-domain")
            assert "looked up in the background" in first or "none known yet" in first
            wait_for_lookup(app, ip)
            assert element_text(policy(client, environ_base={"REMOTE_ADDR": ip}), "evidence-domain") == domain


@pytest.mark.parametrize("signal", [{"Sec-GPC": "1"}, {"DNT": "1"}])
def test_with_gpc_the_blocking_panel_says_so_and_no_ip_is_stored(app, client, signal):
    plain = policy(client, environ_base=ADDRESS)
    assert element_text(plain, "evidence-gpc") == "not sent"
    assert "stores your IP address (127.0.0.77)" in element_text(plain, "evidence-blocking")

    acknowledge(client, environ_base=ADDRESS)  # the browser now holds a visitor cookie
    response = client.get("/privacy", environ_base=ADDRESS, headers=signal)
    page = response.get_data(as_text=True)
    flag = "evidence-gpc" if "Sec-GPC" in signal else "evidence-dnt"
    assert element_text(page, flag) == "received"
    blocking = element_text(page, "evidence-blocking")
    assert "did not store" in blocking and "the visit row for this request has no IP address" in blocking
    assert "visitor cookie was ignored" in blocking
    assert "no IP address is stored for this request" in element_text(page, "evidence-ip")
    assert element_text(page, "evidence-visitor") == "none (blocking signal)"
    assert "127.0.0.77" not in section(page, "collect-ip") + section(page, "blocking")
    # The visitor cookie is never set while the signal is sent; the one held before is deleted (withdrawn).
    visitor_cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("visitor=")]
    assert all(c.startswith("visitor=;") and "Max-Age=0" in c for c in visitor_cookies)
    with app.app_context():
        visits.flush(app)
        row = db.session.execute(
            select(Visit).where(Visit.path == "/privacy").order_by(Visit.id.desc()).limit(1)
        ).scalar_one()
        assert row.blocking_signal and row.ip is None and row.domain is None and row.visitor_id is None

    later = policy(client, environ_base=ADDRESS, headers=signal)
    # The first signalled request is stored; this one's row is written once its page is sent.
    today = element_text(later, "evidence-blocking-today")
    assert "Today 1 visit came with a blocking signal; 0 of them stored" in today


def test_combine_and_opt_out_panels_show_this_browsers_submission_and_its_choice(app, client):
    page = policy(client, environ_base=ADDRESS)
    assert "carry this request's IP address (127.0.0.77)" in element_text(page, "evidence-combined")
    acknowledge(client, environ_base=ADDRESS)
    response = submit(
        client,
        "/newsletter",
        {"email": "jane@example.org", "topics": ["offers"], "no_share": "y"},
        environ_base=ADDRESS,
    )
    assert response.status_code == 303
    with app.app_context():
        signup = db.session.execute(select(Submission)).scalar_one()
        number, receipt, visitor_id = signup.id, signup.receipt_id, signup.visitor_id
    page = policy(client, environ_base=ADDRESS)
    combine = text_of(section(page, "combine"))
    assert f"1 submission from this browser is linked to its visits through visitor id {visitor_id}" in combine
    for clause in ("combine", "opt-out"):
        row = element_text(section(page, clause), f"{clause}-submission-{number}")
        assert f"Newsletter #{number}" in row and "j***@example.org" in row
        assert '"don\'t share" ticked' in row and "marketing allowed" in row
        assert 'would be excluded from exports because: "don\'t share" was ticked on it' in row
        assert f'href="/receipt/{receipt}"' in section(page, clause)
    assert element_text(page, "opt-out-newsletter") == "Newsletter 1 0 (0.0 %) 1 (100.0 %)"
    assert f"Newsletter #{number} (policy {POLICY_VERSION})" in element_text(page, "evidence-receipts")

    other = app.test_client()  # another browser sees none of it
    assert f"submission-{number}" not in policy(other)


def test_cookies_panel_decodes_the_cart_after_adding_an_item(app, client):
    page = policy(client)
    assert element_text(page, "evidence-cookie-cart") == "cart : not held by this browser"
    submit(client, "/product/hush-anc", {"product_id": product_id(app), "quantity": 2}, action="/cart/add")
    cart = element_text(policy(client), "evidence-cookie-cart")
    assert "held by this browser, signature valid" in cart
    assert f"holds 2 × Hush ANC Headphones (product {product_id(app)})" in cart


def test_form_counts_match_the_rows_in_the_table(app, client):
    with app.app_context():
        for values in [{}, {"no_share": True}, {"no_share": True, "no_marketing": True}]:
            add_submission("survey", **values)
        add_submission("contact", no_marketing=True)
        add_submission("contact", erased_at=utcnow())  # erased: no longer held
        db.session.commit()
    page = policy(client)
    assert element_text(page, "form-count-survey") == "Customer survey 3"
    assert element_text(page, "form-count-contact") == "Contact form 1"
    assert element_text(page, "form-count-board") == "Bulletin board 0"
    assert element_text(page, "opt-out-survey") == "Customer survey 3 1 (33.3 %) 2 (66.7 %)"
    assert element_text(page, "opt-out-contact") == "Contact form 1 1 (100.0 %) 0 (0.0 %)"
    assert "(4 in all)" in text_of(section(page, "where-submitted"))
    for url in ("/newsletter", "/survey", "/register", "/checkout", "/board", "/chat", "/contact"):
        assert f'href="{url}"' in section(page, "where-submitted")


class TestWithoutVisitRecording:
    """Only the rows inserted here exist, so every number can be counted by hand."""

    @pytest.fixture
    def app_config(self):
        return {"VISITS_ENABLED": False}

    def test_uses_panel_numbers_match_the_rows_in_the_tables(self, app, client):
        now = utcnow()
        with app.app_context():
            rows = [
                ("/product/hush-anc", False, now),
                ("/product/hush-anc", False, now),
                ("/product/hush-anc", False, now),
                ("/", False, now),
                ("/product/hush-anc", True, now),  # blocking: not counted by the shelf
                ("/", False, now - timedelta(days=2)),  # not today
            ]
            for number, (path, blocking, when) in enumerate(rows):
                db.session.add(
                    Visit(
                        uid=f"u{number}",
                        time=when,
                        ip=None if blocking else "127.0.0.9",
                        method="GET",
                        path=path,
                        status=200,
                        response_ms=1.0,
                        blocking_signal=blocking,
                    )
                )
            notice = Notice(subject="News", body="Hello", created_by="staff")
            db.session.add(notice)
            db.session.flush()
            db.session.add_all([NoticeDelivery(notice_id=notice.id, subscription_id=n) for n in (1, 2)])
            db.session.commit()
        page = policy(client)
        assert element_text(page, "evidence-visits-today") == "5"
        assert element_text(page, "evidence-popular") == "Hush ANC Headphones (3 views)"
        assert element_text(page, "evidence-notices") == "1 / 2"
        assert element_text(page, "evidence-audience").startswith("0 ")
        assert "Today 1 visit came with a blocking signal; 0 of them stored" in element_text(
            page, "evidence-blocking-today"
        )


def test_sharing_panel_counts_the_ledger_and_names_the_recipients(app, client):
    with app.app_context():
        open_one = add_submission("contact", email="x@example.org", proven_at=utcnow())
        add_submission("contact", email="y@example.org", no_share=True, proven_at=utcnow())
        add_submission("contact", email="z@example.org")  # sent by someone who never proved the address
        acme = Recipient(name="Acme Partners", kind=Recipient.AFFILIATE)
        db.session.add_all([acme, Recipient(name="Zed Mail", kind=Recipient.THIRD_PARTY)])
        db.session.flush()
        for _ in range(2):
            db.session.add(
                LedgerEntry(
                    recipient=acme,
                    purpose="Marketing",
                    staff_name="sam",
                    record_count=1,
                    items=[LedgerItem(submission_id=open_one.id)],
                )
            )
        db.session.commit()
        shareable = len(db.session.execute(shareable_submissions()).scalars().all())
    page = policy(client)
    listed = section(page, "sharing").split('id="evidence-sharing-rule"')[1].split("</ul>")[0]
    rule = re.findall(r"<li>(.*?)</li>", listed)
    # The panel lists the rule the export applies, word for word.
    assert [html.unescape(item) for item in rule] == [rule.reason for rule in SHARING.rules]
    assert "whoever sent it has not proven the address is theirs" in element_text(page, "evidence-sharing-rule")
    assert element_text(page, "evidence-ledger") == "2 exports, 2 records in all"
    assert element_text(page, "evidence-shareable") == str(shareable) == "1"
    assert (
        element_text(page, "evidence-recipients")
        == "Acme Partners (affiliate, 2 exports); Zed Mail (third party, 0 exports)"
    )


def follow_confirmation(client, app, email):
    """Press the button behind the newsletter link mailed to ``email`` (the newest one)."""
    [entry, *_] = [m for m in outbox(app) if m.to == email and "newsletter/confirm/" in m.text]
    path = urlsplit(re.search(r"https?://\S+/newsletter/confirm/\S+", entry.text).group(0)).path
    page = client.get(path).get_data(as_text=True)
    assert client.post(path, data={"csrf_token": csrf_token_from(page)}).status_code == 200


def test_tour_shows_why_this_browsers_signup_would_be_left_out_of_exports(app, client):
    acknowledge(client)
    submit(client, "/newsletter", {"email": "jane@example.org", "topics": ["offers"], "no_share": "y"})
    submit(client, "/newsletter", {"email": "joe@example.org", "topics": ["guides"]})
    with app.app_context():
        jane, joe = db.session.execute(select(Submission).order_by(Submission.id)).scalars().all()
        jane_id, joe_id = jane.id, joe.id
    tour = client.get("/privacy/tour").get_data(as_text=True)
    live = element_text(tour, "live-newsletter")
    assert (
        f"Your newsletter signup #{jane_id} (j***@example.org" in live
        and 'would be excluded from exports because: "don\'t share" was ticked on it; '
        "whoever sent it has not proven the address is theirs"
        in live
    )
    assert f"signup #{joe_id}" in live
    assert "not confirmed" not in live  # the address's state is not shown to this browser

    follow_confirmation(client, app, "joe@example.org")  # joe's own link: his signup becomes shareable
    with app.app_context():
        allowed = {s.id for s in db.session.execute(shareable_submissions()).scalars()}
    assert allowed == {joe_id}
    live = text_of(
        client.get("/privacy/tour").get_data(as_text=True).split('id="live-newsletter"')[1].split("</div>")[0]
    )
    joe_line = live[live.index(f"#{joe_id}") :].split("Your newsletter signup")[0]
    # Nothing on joe's signup keeps it out; what his address says is for his "your data" session only.
    assert "would be included in a marketing export made now unless its address's own state says no" in joe_line
    jane_line = live[live.index(f"#{jane_id}") :]
    assert 'would be excluded from exports because: "don\'t share" was ticked on it;' in jane_line
    sharing = element_text(client.get("/privacy/tour").get_data(as_text=True), "live-sharing")
    assert "an export made now would hold 1 record, 0 of them yours, 1 more unless" in sharing


def test_other_sources_figure_moves_the_same_for_a_known_and_a_new_address(app, client):
    with app.app_context():
        add_submission("newsletter", email="a@example.org")
        add_submission("registration", email="a@example.org")
        add_submission("registration", email="a@example.org")
        add_submission("contact", email="b@example.org")
        link = AccessLink(purpose=AccessLink.ACCESS, email="a@example.org", nonce="n" * 32, used_at=utcnow())
        db.session.add(link)
        db.session.commit()
        link_id = link.id
    page = policy(client)
    other_sources = element_text(page, "evidence-other-sources")
    assert other_sources.startswith("4 of the submissions we hold carry an email address.")
    assert "evidence-granted" not in page  # nothing under an address without the mailed link
    stranger = app.test_client()
    figures = []
    for email in ("a@example.org", "new@example.org"):  # one more submission: a known address, then a new one
        before = element_text(policy(stranger), "evidence-other-sources")
        response = submit(stranger, "/newsletter", {"email": email, "topics": ["offers"]})
        assert response.status_code == 303
        figures.append((before.split()[0], element_text(policy(stranger), "evidence-other-sources").split()[0]))
    assert figures == [("4", "5"), ("5", "6")]
    with client.session_transaction() as session:
        session["my_data"] = {"link": link_id, "key": "n" * 32}
    granted = element_text(policy(client), "evidence-granted")
    assert granted.startswith("Under a***@example.org, which this browser opened:")
    assert "2 × Newsletter" in granted and "2 × Product registration" in granted


def test_consent_panel_compares_the_acknowledged_version_with_the_current_one(app, client):
    page = policy(client)
    assert element_text(page, "evidence-consent-version") == "none"
    assert element_text(page, "evidence-banner") == "shown to this browser"
    acknowledge(client)
    page = policy(client)
    assert element_text(page, "evidence-consent-version") == POLICY_VERSION
    assert element_text(page, "evidence-banner").startswith("answered for the current version")
    with app.test_request_context():
        old = serializer("consent").dumps("2001-01")
    client.set_cookie("consent", old)
    page = policy(client)
    assert element_text(page, "evidence-consent-version") == "2001-01"
    assert "again: the policy changed" in element_text(page, "evidence-banner")


def test_access_clause_links_to_your_data_and_the_page_to_the_tour(client):
    page = policy(client)
    assert 'href="/my-data"' in section(page, "access")
    assert 'href="/privacy/tour"' in page[: page.index('<section id="collect-ip"')]
    tour = client.get("/privacy/tour")
    assert tour.status_code == 200 and tour.headers["Cache-Control"] == "private, no-store"
    assert client.get("/privacy").headers["Cache-Control"] == "private, no-store"
    for step in ("banner", "cart", "visits", "newsletter", "receipt", "sharing", "gpc", "my-data", "map"):
        assert f'id="step-{step}"' in tour.get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"STORE_EMAIL": "hello@shop.example", "STORE_ADDRESS": "1 Test Row"}])
def test_contact_panel_shows_the_configured_details_and_the_form(client, app_config):
    panel = section(policy(client), "contact")
    assert 'href="mailto:hello@shop.example"' in panel and "1 Test Row" in panel
    assert 'href="/contact"' in panel


def test_policy_pages_carry_no_inline_script_or_style(client):
    for url in ("/privacy", "/privacy/tour"):
        page = client.get(url).get_data(as_text=True)
        assert " style=" not in page and "<style" not in page
        assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", page))


def test_the_policy_page_costs_a_few_queries_however_much_this_browser_sent(app, client):
    acknowledge(client)
    engine_queries = []
    request_thread = threading.get_ident()  # the test client serves the request on this thread

    def count(*_args):
        if threading.get_ident() == request_thread:  # not the visit writer's inserts on its own thread
            engine_queries.append(1)

    def queries_for_policy() -> int:
        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            engine_queries.clear()
            policy(client)
            return len(engine_queries)
        finally:
            event.remove(engine, "before_cursor_execute", count)

    submit(client, "/newsletter", {"email": "jane@example.org", "topics": ["offers"]})
    few = queries_for_policy()
    for n in range(4):
        submit(
            client,
            "/contact",
            {"name": "Jane", "email": f"j{n}@example.org", "subject": "Hi", "message": "Hello there"},
        )
    with app.app_context():
        recipient = Recipient(name="Acme")
        ids = db.session.execute(select(Submission.id)).scalars().all()
        db.session.add(
            LedgerEntry(
                recipient=recipient,
                purpose="Marketing",
                staff_name="sam",
                record_count=len(ids),
                items=[LedgerItem(submission_id=i) for i in ids],
            )
        )
        db.session.commit()
    many = queries_for_policy()
    assert few <= 25
    assert many <= few + 2  # the ledger's recipients, loaded once; nothing per row
