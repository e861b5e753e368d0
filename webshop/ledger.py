"""The sharing ledger: every export names its recipient, purpose, time, staff member and exactly which submissions.

Written by the export (the staff page and ``flask share export``), read by
"your data" and the policy page.
"""

from sqlalchemy import select

from .db import db
from .models import LedgerEntry, LedgerItem, Recipient


def record_export(recipient: Recipient, purpose: str, staff_name: str, submissions) -> LedgerEntry:
    """Write the ledger entry for an export of ``submissions`` (the caller commits)."""
    submissions = list(submissions)
    entry = LedgerEntry(
        recipient=recipient,
        purpose=purpose,
        staff_name=staff_name,
        record_count=len(submissions),
        items=[LedgerItem(submission_id=s.id) for s in submissions],
    )
    db.session.add(entry)
    return entry


def ledger_for(submission_ids) -> dict[int, list[LedgerEntry]]:
    """Ledger entries that included each of ``submission_ids``, for "your data"."""
    ids = list(submission_ids)
    found: dict[int, list[LedgerEntry]] = {i: [] for i in ids}
    if not ids:
        return found
    rows = db.session.execute(
        select(LedgerItem.submission_id, LedgerEntry)
        .join(LedgerEntry, LedgerEntry.id == LedgerItem.entry_id)
        .where(LedgerItem.submission_id.in_(ids))
        .order_by(LedgerEntry.created_at)
    ).all()
    for submission_id, entry in rows:
        found[submission_id].append(entry)
    return found
