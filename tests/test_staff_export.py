"""The marketing export is default-deny, and every export is written to the sharing ledger exactly."""

import csv
import html
import io
import json
import re
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.pages import submit
from tests.support.staff import add_recipient, signed_in, submission, web_export
from webshop.db import db
from webshop.models import (
    AuditEvent,
    EmailPreference,
    LedgerEntry,
    LedgerItem,
    NoticeDelivery,
    Recipient,
    Submission,
    Subscription,
    utcnow,
)
from webshop.rules import SHARING, notice_audience

EMAILS = ["ann@example.org", "ben@example.org", "cat@example.org", None]
KINDS = ["order", "newsletter", "survey", "registration", "contact", "board", "chat"]
STATUSES = [None, Subscription.PENDING, Subscription.CONFIRMED, Subscription.UNSUBSCRIBED]


@pytest.fixture
def app_config():
    return {"VISITS_ENABLED": False}


# --- The property --------------------------------------------------------------------------

records = st.lists(
    st.fixed_dictionaries(
        {
            "kind": st.sampled_from(KINDS),
            "email": st.sampled_from(EMAILS),
            "no_share": st.booleans(),
            "no_marketing": st.booleans(),
            "blocking": st.booleans(),
            "erased": st.booleans(),
            "proven": st.booleans(),
        }
    ),
    max_size=10,
)
per_address = st.fixed_dictionaries(
    {
        "status": st.sampled_from(STATUSES),
        "preference": st.none() | st.tuples(st.booleans(), st.booleans()),  # (sharing_off, marketing_off)
    }
)
worlds = st.tuples(records, st.lists(per_address, min_size=3, max_size=3))


def may_be_shared(record, address) -> bool:
    """The default-deny rules written out again, independently of webshop.rules."""
    if record["email"] is None or not record["proven"]:
        return False
    if record["no_share"] or record["blocking"] or record["erased"]:
        return False
    if address["preference"] and address["preference"][0]:
        return False
    if record["kind"] == "newsletter" and address["status"] != Subscription.CONFIRMED:
        return False
    return True


def may_get_notices(signup, address) -> bool:
    """A confirmed address whose proven signup allows marketing and whose preference does too."""
    return (
        address["status"] == Subscription.CONFIRMED
        and signup["proven"]
        and not (signup["no_marketing"] or signup["blocking"] or signup["erased"])
        and not (address["preference"] and address["preference"][1])
    )


def clear_people():
    for model in (LedgerItem, LedgerEntry, NoticeDelivery, Subscription, EmailPreference, AuditEvent, Submission):
        db.session.execute(db.delete(model))
    db.session.commit()


def store_world(record_list, addresses) -> tuple[dict[str, int], dict[str, str]]:
    """Insert the records; return name → submission id, and email → the signup name its subscription uses."""
    ids, signups = {}, {}
    for index, record in enumerate(record_list):
        name = f"person-{index}"
        row = submission(
            record["kind"],
            record["email"],
            name=name,
            no_share=record["no_share"],
            no_marketing=record["no_marketing"],
            blocking_signal=record["blocking"],
            erased_at=utcnow() if record["erased"] else None,
            proven_at=utcnow() if record["proven"] else None,
        )
        db.session.add(row)
        db.session.flush()
        ids[name] = row.id
    for email, address in zip(EMAILS, addresses, strict=False):
        if address["preference"]:
            sharing_off, marketing_off = address["preference"]
            db.session.add(EmailPreference(email=email, sharing_off=sharing_off, marketing_off=marketing_off))
        if address["status"]:
            signup_index = next(
                (
                    i
                    for i, r in reversed(list(enumerate(record_list)))
                    if r["kind"] == "newsletter" and r["email"] == email
                ),
                None,
            )
            signup_name = f"person-{signup_index}" if signup_index is not None else None
            db.session.add(
                Subscription(
                    email=email,
                    status=address["status"],
                    # Site-update notices go to subscribers of that topic (tests/test_newsletter_preferences.py).
                    topics=["site-updates"],
                    submission_id=ids[signup_name] if signup_name else None,
                )
            )
            if signup_name:
                signups[email] = signup_name
    db.session.commit()
    return ids, signups


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=worlds)
def test_no_export_ever_holds_a_record_an_exclusion_rule_covers(app, client, world):
    record_list, addresses = world
    if not getattr(client, "staff_ready", False):
        signed_in(app, client)
        client.recipient_id = add_recipient(app)
        client.staff_ready = True
    with app.app_context():
        clear_people()
        ids, signups = store_world(record_list, addresses)
        audience = {s.email for s in db.session.execute(notice_audience()).scalars()}

    by_email = dict(zip(EMAILS, addresses, strict=False))
    expected = {f"person-{i}" for i, r in enumerate(record_list) if may_be_shared(r, by_email.get(r["email"]))}
    exported = json.loads(web_export(client, client.recipient_id).get_data(as_text=True))
    rows = exported["records"]
    assert {row["name"] for row in rows} == expected
    assert len(rows) == len(expected)
    assert all(set(row) == {"email", "name", "kind", "date"} for row in rows)

    with app.app_context():
        entry = db.session.get(LedgerEntry, exported["ledger_entry"])
        assert sorted(item.submission_id for item in entry.items) == sorted(ids[name] for name in expected)
        assert entry.record_count == len(expected)

    expected_audience = {
        email
        for email, signup in signups.items()
        if may_get_notices(record_list[int(signup.split("-")[1])], by_email[email])
    }
    assert audience == expected_audience


# --- Exact ledger entries -----------------------------------------------------------------------


@pytest.fixture
def shared_world(app):
    """Two records that may be shared (sent with "your data" open) and four that may not, with their ids."""
    with app.app_context():
        rows = {
            "order": submission("order", "ann@example.org", name="Ann", proven_at=utcnow()),
            "survey": submission("survey", "ben@example.org", name="=HYPERLINK(1)", proven_at=utcnow()),
            "unproven": submission("survey", "fay@example.org", name="Fay"),
            "no_share": submission("contact", "cat@example.org", name="Cat", no_share=True),
            "blocking": submission("board", "dan@example.org", name="Dan", no_share=True, blocking_signal=True),
            "pending": submission("newsletter", "eve@example.org"),
        }
        rows["order"].created_at = datetime(2026, 3, 1, 10, 0)
        db.session.add_all(rows.values())
        db.session.add(Subscription(email="eve@example.org", status=Subscription.PENDING))
        db.session.commit()
        return {key: row.id for key, row in rows.items()}


def test_web_export_writes_one_exact_ledger_entry_and_an_audit_line(app, client, shared_world):
    signed_in(app, client)
    recipient_id = add_recipient(app)
    response = web_export(client, recipient_id, purpose="Spring offers", fmt="csv")
    assert response.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert table == [
        ["email", "name", "kind", "date"],
        ["ann@example.org", "Ann", "order", "2026-03-01"],
        ["ben@example.org", "'=HYPERLINK(1)", "survey", table[2][3]],  # no formula reaches a spreadsheet
    ]
    with app.app_context():
        [entry] = db.session.execute(db.select(LedgerEntry)).scalars().all()
        assert (entry.recipient_id, entry.purpose, entry.staff_name, entry.record_count) == (
            recipient_id,
            "Spring offers",
            "alice",
            2,
        )
        assert [item.submission_id for item in entry.items] == sorted([shared_world["order"], shared_world["survey"]])
        assert (utcnow() - entry.created_at).total_seconds() < 60
        [event] = db.session.execute(db.select(AuditEvent).where(AuditEvent.action == "marketing_export")).scalars()
        assert event.actor == "staff:alice"
        assert event.detail == {"ledger_entry_id": entry.id, "recipient_id": recipient_id, "records": 2}
    ledger = client.get(f"/admin/ledger/{entry.id}").get_data(as_text=True)
    assert f"{shared_world['order']}, {shared_world['survey']}" in ledger


def test_cli_export_writes_the_ledger_with_the_operating_system_user(app, runner, shared_world, tmp_path):
    add_recipient(app, "Affiliate Ltd")
    output = tmp_path / "list.json"
    result = runner.invoke(
        args=[
            "share",
            "export",
            "--recipient",
            "Affiliate Ltd",
            "--purpose",
            "Catalogue",
            "--format",
            "json",
            "--output",
            str(output),
        ]
    )
    assert result.exit_code == 0, result.output
    exported = json.loads(output.read_text())
    assert [r["email"] for r in exported["records"]] == ["ann@example.org", "ben@example.org"]
    with app.app_context():
        entry = db.session.get(LedgerEntry, exported["ledger_entry"])
        assert entry.staff_name.startswith("cli:") and entry.purpose == "Catalogue"
        assert [item.submission_id for item in entry.items] == sorted([shared_world["order"], shared_world["survey"]])


def test_cli_export_to_stdout_and_unknown_recipient(app, runner, shared_world):
    add_recipient(app, "Affiliate Ltd")
    result = runner.invoke(args=["share", "export", "--recipient", "Affiliate Ltd"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:2] == ["email,name,kind,date", "ann@example.org,Ann,order,2026-03-01"]
    missing = runner.invoke(args=["share", "export", "--recipient", "Nobody"])
    assert missing.exit_code != 0 and "No recipient named 'Nobody'" in missing.output
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(LedgerEntry)).scalar_one() == 1


def test_staff_add_recipients_and_names_stay_unique(app, client):
    signed_in(app, client)
    assert "Add a recipient first" in client.get("/admin/export").get_data(as_text=True).replace("</a>", "")
    added = submit(client, "/admin/recipients", {"name": "Partner Co", "kind": "affiliate", "description": "Offers"})
    assert added.status_code == 303
    again = submit(client, "/admin/recipients", {"name": "Partner Co", "kind": "third party"})
    assert "already exists" in again.get_data(as_text=True)
    with app.app_context():
        [recipient] = db.session.execute(db.select(Recipient)).scalars().all()
        assert (recipient.name, recipient.kind) == ("Partner Co", "affiliate")


def test_export_page_states_every_rule_the_export_applies(app, client, shared_world):
    signed_in(app, client)
    page = client.get("/admin/export").get_data(as_text=True)
    listed = re.findall(r"<li>(.*?)</li>", page.split('id="export-rules"', 1)[1].split("</ul>", 1)[0], re.S)
    assert [html.unescape(item.strip()) for item in listed] == [rule.reason for rule in SHARING.rules]
    assert '<strong id="shareable-count">2</strong>' in page  # ann's order and ben's survey, as exported above
