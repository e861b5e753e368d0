"""The proof migration marks as proven exactly the signups whose own confirmation link was followed."""

from flask_migrate import upgrade
from sqlalchemy import text

from tests.support.apps import empty_app
from webshop.db import MIGRATIONS_DIR, db

SUBMISSION = (
    "INSERT INTO submission (receipt_id, kind, created_at, email, fields, no_marketing, no_share,"
    " blocking_signal, domain_confirmed, policy_version)"
    " VALUES (:receipt, :kind, :created, :email, '{}', false, false, false, false, '2026-11')"
)
SUBSCRIPTION = (
    "INSERT INTO subscription (email, status, topics, unsubscribe_token, submission_id, created_at, confirmed_at)"
    " VALUES (:email, :status, '[]', :token, (SELECT id FROM submission WHERE receipt_id = :receipt),"
    " '2026-01-01 00:00:00', :confirmed)"
)


def test_only_confirmed_signups_are_proven_after_the_upgrade(database, request, tmp_path):
    with empty_app(database, request, tmp_path):
        upgrade(directory=MIGRATIONS_DIR, revision="0007")
        rows = [
            # receipt, kind, created, email, subscription status, confirmed at
            ("confirmed", "newsletter", "2026-01-01 10:00:00", "c@example.org", "confirmed", "2026-01-01 11:00:00"),
            ("pending", "newsletter", "2026-01-01 10:00:00", "p@example.org", "pending", None),
            # confirmed once, unsubscribed, then a new signup that nobody confirmed
            ("resigned", "newsletter", "2026-02-01 10:00:00", "r@example.org", "pending", "2026-01-01 11:00:00"),
            ("survey", "survey", "2026-01-01 10:00:00", "c@example.org", None, None),
        ]
        for receipt, kind, created, email, status, confirmed in rows:
            db.session.execute(text(SUBMISSION), {"receipt": receipt, "kind": kind, "created": created, "email": email})
            if status:
                values = {"email": email, "status": status, "receipt": receipt, "confirmed": confirmed}
                db.session.execute(text(SUBSCRIPTION), {**values, "token": f"token-{receipt}"})
        db.session.commit()
        upgrade(directory=MIGRATIONS_DIR, revision="head")
        proven = dict(db.session.execute(text("SELECT receipt_id, proven_at FROM submission")).all())
    assert {receipt for receipt, at in proven.items() if at is not None} == {"confirmed"}
    assert str(proven["confirmed"]).startswith("2026-01-01 11:00:00")
