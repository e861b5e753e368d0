"""Choice both ways (the policy's consent, blocking, cookies and access clauses): accept or decline on the
banner, change of mind, the consent log, a blocking signal that arrives later, and forgetting a browser."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.forms import FORMS, outbox, send
from tests.support.my_data import JANE, open_access, share_all
from tests.support.pages import csrf_token_from, element_text, submit
from tests.support.staff import add_recipient, signed_in, web_export
from webshop.cookies import serializer
from webshop.db import db
from webshop.models import AuditEvent, BoardPost, ConsentDecision, Order, Submission, Visit
from webshop.policy_text import POLICY_VERSION
from webshop.rules import WITHDRAWN, shareable_submissions
from webshop.staff.dashboard import consent_totals
from webshop.visits import flush

CONTACT = next(case for case in FORMS if case.kind == "contact")
ORDER = next(case for case in FORMS if case.kind == "order")
BOARD = next(case for case in FORMS if case.kind == "board")


def choose(client, choice, source=None, **kwargs):
    data = {"next": "/", "choice": choice}
    if source:
        data["source"] = source
    return submit(client, "/my-data", data, action="/consent", **kwargs)


def rows(app, model, *where):
    with app.app_context():
        found = db.session.execute(select(model).where(*where).order_by(model.id)).scalars().all()
        db.session.expunge_all()
        return found


def visitor_of(client, app):
    cookie = client.get_cookie("visitor")
    if cookie is None:
        return None
    with app.app_context():
        return serializer("visitor").loads(cookie.value)


def shareable_ids(app):
    with app.app_context():
        return [s.id for s in db.session.execute(shareable_submissions()).scalars()]


def shows_banner(client, path="/"):
    return 'id="consent-banner"' in client.get(path).get_data(as_text=True)


# --- The banner and the cookie ------------------------------------------------------------------


def test_banner_offers_accept_and_decline_as_equal_buttons(client):
    page = client.get("/").get_data(as_text=True)
    banner = page[page.index('id="consent-banner"') : page.index("</section>", page.index('id="consent-banner"'))]
    assert '<button type="submit" name="choice" value="accept">Accept</button>' in banner
    assert '<button type="submit" name="choice" value="decline">Decline</button>' in banner


def test_decline_keeps_no_visitor_cookie_no_ip_and_marks_submissions_dont_share(client, app):
    response = choose(client, "decline")
    assert response.status_code == 303
    assert client.get_cookie("visitor") is None
    assert not shows_banner(client)  # the choice is remembered
    client.get("/?after=decline")
    assert send(client, app, CONTACT).status_code == 303
    assert client.get_cookie("visitor") is None
    flush(app)
    [visit] = rows(app, Visit, Visit.query == "after=decline")
    assert (visit.ip, visit.domain, visit.visitor_id, visit.blocking_signal) == (None, None, None, True)
    [sent] = rows(app, Submission, Submission.kind == "contact")
    assert sent.no_share and sent.blocking_signal and sent.ip is None and sent.visitor_id is None
    [decision] = rows(app, ConsentDecision)
    assert (decision.choice, decision.visitor_id, decision.policy_version) == ("decline", None, POLICY_VERSION)
    page = client.get("/contact").get_data(as_text=True)
    assert "You declined on the privacy banner" in page
    policy = client.get("/privacy").get_data(as_text=True)
    assert element_text(policy, "evidence-declined").startswith("yes")
    assert element_text(policy, "evidence-blocking").startswith("Because you declined on the privacy banner")
    assert element_text(client.get("/my-data").get_data(as_text=True), "blocking-notice").startswith(
        "You declined on the privacy banner, so nothing identifying was stored"
    )


def test_accept_gives_the_visitor_id_in_the_same_response_and_logs_it(client, app):
    response = choose(client, "accept")
    assert "visitor=" in " ".join(response.headers.getlist("Set-Cookie"))
    visitor_id = visitor_of(client, app)
    [decision] = rows(app, ConsentDecision)
    assert (decision.choice, decision.source, decision.visitor_id) == ("accept", "banner", visitor_id)
    assert decision.policy_version == POLICY_VERSION


@pytest.mark.parametrize(
    "payload", [{"choice": "maybe", "version": POLICY_VERSION}, ["accept"], {"choice": "accept"}, 42, "x" * 300]
)
def test_a_malformed_consent_cookie_shows_the_banner_again(client, app, payload):
    with app.app_context():
        client.set_cookie("consent", serializer("consent").dumps(payload))
    response = client.get("/")
    assert response.status_code == 200
    assert 'id="consent-banner"' in response.get_data(as_text=True)


def test_a_tampered_consent_cookie_shows_the_banner_and_no_error(client):
    client.set_cookie("consent", "eyJjaG9pY2UiOiJhY2NlcHQifQ.forged.signature")
    for path in ("/", "/my-data", "/privacy"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert 'id="consent-banner"' in response.get_data(as_text=True)


def test_an_old_cookie_holding_a_version_reads_as_accept(client, app):
    with app.app_context():
        client.set_cookie("consent", serializer("consent").dumps(POLICY_VERSION))
    assert not shows_banner(client)
    assert element_text(client.get("/my-data").get_data(as_text=True), "my-data-current-choice").startswith(
        "Your choice for this browser: accepted"
    )


@pytest.mark.parametrize("data", [{}, {"choice": "ok"}, {"choice": "accept", "source": "elsewhere"}])
def test_a_bad_choice_is_a_clean_400(client, data):
    response = submit(client, "/", {"next": "/", **data}, action="/consent")
    assert response.status_code == 400
    assert "Nothing was changed" in response.get_data(as_text=True)
    assert client.get_cookie("consent") is None


# --- Change of mind and withdrawal --------------------------------------------------------------


def test_declining_after_accepting_withdraws_earlier_submissions_and_the_ledger_says_so(client, app):
    choose(client, "accept")
    visitor_id = visitor_of(client, app)
    open_access(client, app, JANE)
    assert send(client, app, CONTACT).status_code == 303
    [sent] = rows(app, Submission, Submission.kind == "contact")
    assert sent.id in shareable_ids(app)
    assert share_all(app, "Acme Partners") == [sent.id]

    response = choose(client, "decline", source="my-data")
    assert response.status_code == 303
    assert client.get_cookie("visitor") is None
    assert shareable_ids(app) == []
    [withdrawn] = rows(app, Submission, Submission.id == sent.id)
    assert withdrawn.withdrawn_at is not None
    decisions = rows(app, ConsentDecision)
    assert [(d.choice, d.source, d.visitor_id) for d in decisions] == [
        ("accept", "banner", visitor_id),
        ("withdraw", "my-data", visitor_id),
    ]
    [line] = rows(app, AuditEvent, AuditEvent.action == "consent.withdrawn")
    assert line.detail["submissions"] == 1
    # The ledger keeps the earlier share and labels it, on "your data" by email and the policy page.
    open_access(client, app, JANE)
    day = withdrawn.withdrawn_at.strftime("%Y-%m-%d")
    note = f"shared before consent was withdrawn on {day}, and will not be shared again"
    everything = client.get("/my-data/email").get_data(as_text=True)
    assert "Acme Partners" in everything and note in everything
    assert share_all(app, "Later Partners") == []  # a later export leaves it out


def test_the_staff_export_leaves_withdrawn_submissions_out_and_says_why(client, app):
    choose(client, "accept")
    open_access(client, app, JANE)
    assert send(client, app, CONTACT).status_code == 303
    choose(client, "decline")
    staff = signed_in(app, app.test_client())
    page = staff.get("/admin/export").get_data(as_text=True)
    assert WITHDRAWN.reason in page.replace("&#34;", '"').replace("&#39;", "'")
    assert '<strong id="shareable-count">0</strong>' in page
    document = json.loads(web_export(staff, add_recipient(app)).get_data(as_text=True))
    assert JANE not in json.dumps(document)


def test_a_blocking_signal_after_the_fact_withdraws_once_and_deletes_the_visitor_cookie(client, app):
    choose(client, "accept")
    visitor_id = visitor_of(client, app)
    open_access(client, app, JANE)
    assert send(client, app, CONTACT).status_code == 303
    assert len(shareable_ids(app)) == 1
    response = client.get("/", headers={"Sec-GPC": "1"})
    assert "visitor=;" in " ".join(response.headers.getlist("Set-Cookie"))
    assert client.get_cookie("visitor") is None
    assert shareable_ids(app) == []
    client.get("/", headers={"Sec-GPC": "1"})
    withdrawals = rows(app, ConsentDecision, ConsentDecision.choice == "withdraw")
    assert [(d.source, d.visitor_id) for d in withdrawals] == [("gpc", visitor_id)]


def test_ordinary_requests_write_nothing_to_the_consent_log(client, app):
    choose(client, "accept")
    for _ in range(3):
        client.get("/")
    client.get("/", headers={"DNT": "0"})
    assert len(rows(app, ConsentDecision)) == 1


def test_my_data_shows_the_choice_switches_it_and_lists_the_log(client, app):
    page = client.get("/my-data").get_data(as_text=True)
    assert element_text(page, "my-data-current-choice") == "Your choice for this browser: none yet."
    choose(client, "decline")
    page = client.get("/my-data").get_data(as_text=True)
    assert element_text(page, "my-data-current-choice").startswith("Your choice for this browser: declined")
    assert "a choice to decline is stored linked to nothing" in page
    token = csrf_token_from(page)
    response = client.post(
        "/consent", data={"csrf_token": token, "choice": "accept", "source": "my-data", "next": "/my-data#choice"}
    )
    assert response.headers["Location"] == "/my-data#choice"
    visitor_id = visitor_of(client, app)
    assert visitor_id
    page = client.get("/my-data").get_data(as_text=True)
    log = element_text(page, "consent-log")
    assert "declined" in log and "accepted" in log and visitor_id in log
    assert "Switch to decline" in page


def test_the_policy_page_shows_the_choice_with_one_switch(client):
    choose(client, "accept")
    page = client.get("/privacy").get_data(as_text=True)
    assert element_text(page, "privacy-current-choice").startswith("Your choice for this browser: accepted")
    assert page.count('name="source" value="privacy"') == 1
    assert "Switch to decline" in page


def test_the_dashboard_counts_decisions_per_day(client, app):
    choose(client, "accept")
    choose(client, "decline")  # a withdrawal: this browser held an id
    choose(client, "decline")
    other = app.test_client()
    choose(other, "accept")
    with app.app_context():
        rows_by_day = consent_totals()
    today = datetime.now(UTC).date().isoformat()
    assert [(d.day, d.accept, d.decline, d.withdraw) for d in rows_by_day] == [(today, 2, 1, 1)]
    staff = signed_in(app, app.test_client())
    table = element_text(staff.get("/admin/").get_data(as_text=True), "consent-totals")
    assert f"{today} 2 1 1" in table


# --- Forget this browser -----------------------------------------------------------------------


def database_bytes(database) -> bytes:
    db_file = Path(database.removeprefix("sqlite:///"))
    wal = db_file.with_name(db_file.name + "-wal")
    return db_file.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def forget(client):
    token = csrf_token_from(client.get("/my-data").get_data(as_text=True))
    confirm = client.post("/my-data/browser/forget", data={"csrf_token": token})
    assert confirm.status_code == 200
    body = confirm.get_data(as_text=True)
    return body, client.post("/my-data/browser/forget/confirm", data={"csrf_token": token})


def test_forgetting_needs_the_confirmation_and_erases_only_this_browser(client, app, instance_path):
    choose(client, "accept")
    visitor_id = visitor_of(client, app)
    assert send(client, app, BOARD, display_name="Forgettable Fred", message="Please forget me").status_code == 303
    assert send(client, app, ORDER, name="Olive Order", address="7 Erasable Road").status_code == 303
    other = app.test_client()
    choose(other, "accept")
    other_id = visitor_of(other, app)
    assert send(other, app, CONTACT, name="Kept Kim").status_code == 303
    [order_before] = rows(app, Order)
    page = client.get("/my-data").get_data(as_text=True)
    preview = client.post("/my-data/browser/forget", data={"csrf_token": csrf_token_from(page)})
    assert "Yes, erase everything linked to this browser" in preview.get_data(as_text=True)
    assert rows(app, Submission, Submission.visitor_id == visitor_id)  # nothing changed yet
    _, done = forget(client)
    assert done.status_code == 303
    cleared = " ".join(done.headers.getlist("Set-Cookie"))
    for name in ("visitor", "consent", "cart"):
        assert f"{name}=;" in cleared
    landing = client.get(done.headers["Location"])
    assert "Erased: " in landing.get_data(as_text=True) and 'id="consent-banner"' in landing.get_data(as_text=True)
    flush(app)
    assert rows(app, Visit, Visit.visitor_id == visitor_id) == []
    assert rows(app, ConsentDecision, ConsentDecision.visitor_id == visitor_id) == []
    [own] = rows(app, Visit, Visit.path == "/my-data/browser/forget/confirm")
    assert own.visitor_id is None
    assert rows(app, Submission, Submission.visitor_id == visitor_id) == []
    [order] = rows(app, Order)
    assert order.total_cents == order_before.total_cents and order.name is None and order.address is None
    [post] = rows(app, BoardPost)
    assert post.body == "Deleted by its author."
    assert rows(app, Visit, Visit.visitor_id == other_id)
    [kept] = rows(app, Submission, Submission.visitor_id == other_id)
    assert kept.name == "Kept Kim"
    assert rows(app, ConsentDecision, ConsentDecision.visitor_id == other_id)


@pytest.mark.only_database("sqlite")
def test_forgotten_values_are_gone_from_the_database_file_spools_and_outbox(client, app, database, instance_path):
    choose(client, "accept")
    visitor_id = visitor_of(client, app)
    assert send(client, app, CONTACT, name="Wanda Wipe", email="wanda@example.org").status_code == 303
    client.get("/?trace=forget-me-please")
    traces = [b"Wanda Wipe", b"wanda@example.org", visitor_id.encode()]
    held = database_bytes(database)
    assert all(trace in held for trace in traces)
    assert any("wanda@example.org" in entry.message.as_string() for entry in outbox(app))
    client.get("/?trace=spooled-not-flushed")  # left in the spool
    forget(client)
    flush(app)
    left = database_bytes(database)
    for trace in traces + [b"forget-me-please"]:
        assert trace not in left, trace
    for spool in (instance_path / "visit-spool").glob("*"):
        assert visitor_id.encode() not in spool.read_bytes()
    assert not any("wanda@example.org" in entry.message.as_string() for entry in outbox(app))


def test_forgetting_a_browser_without_a_visitor_id_says_there_is_nothing(client, app):
    choose(client, "decline")
    body, done = forget(client)
    assert "nothing to forget" in body
    assert done.status_code == 200 and "nothing to forget" in done.get_data(as_text=True)


def test_the_browser_download_holds_this_browser_only(client, app):
    choose(client, "accept")
    visitor_id = visitor_of(client, app)
    assert send(client, app, CONTACT).status_code == 303
    other = app.test_client()
    choose(other, "accept")
    other_id = visitor_of(other, app)
    send(other, app, CONTACT, name="Someone Else")
    response = client.get("/my-data/browser.json")
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert "no-store" in response.headers["Cache-Control"]
    document = json.loads(response.get_data(as_text=True))
    assert document["visitorId"] == visitor_id
    assert [s["kind"] for s in document["submissions"]] == ["contact"]
    assert {v["path"] for v in document["visits"]} >= {"/consent"}
    assert [d["choice"] for d in document["consentLog"]] == ["accept"]
    assert document["choice"] == {"choice": "accept", "version": POLICY_VERSION}
    assert other_id not in response.get_data(as_text=True)
