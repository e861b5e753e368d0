"""Sharing and marketing, default-deny (SPEC §4), and the sharing ledger.

A submission reaches a marketing export only if none of these hold: its
"don't share" box was ticked, a blocking signal came with it, it is a
newsletter signup whose address is not (or no longer) confirmed, it was
erased, or the person turned sharing off for their address on "your data".
Marketing mail follows the same rule with the "don't use for marketing"
box and the marketing preference. Every export writes a ledger entry naming
the recipient, purpose, time, staff member and exactly which submissions.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, and_, exists, not_, or_, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import db
from .models import EmailPreference, Submission, Subscription, utcnow


class Recipient(db.Model):
    """An affiliated organisation or third party that may receive marketing lists."""

    AFFILIATE, THIRD_PARTY = "affiliate", "third party"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default=THIRD_PARTY)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerEntry(db.Model):
    """One export: who received which submissions, when, why, and who sent them."""

    __tablename__ = "sharing_ledger"

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipient.id"))
    purpose: Mapped[str] = mapped_column(String(200))
    staff_name: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    record_count: Mapped[int] = mapped_column(default=0)

    recipient: Mapped[Recipient] = relationship()
    items: Mapped[list["LedgerItem"]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", order_by="LedgerItem.submission_id"
    )


class LedgerItem(db.Model):
    """One submission included in one export."""

    __tablename__ = "sharing_ledger_item"

    entry_id: Mapped[int] = mapped_column(ForeignKey("sharing_ledger.id"), primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), primary_key=True, index=True)

    entry: Mapped[LedgerEntry] = relationship(back_populates="items")


def _preference_off(column):
    """True when the submission's address has turned this use off going forward."""
    return exists().where(EmailPreference.email == Submission.email, column.is_(True))


def _newsletter_not_confirmed():
    """True for a newsletter signup whose address is not currently confirmed."""
    confirmed = exists().where(
        Subscription.email == Submission.email, Subscription.status == Subscription.CONFIRMED
    )
    return and_(Submission.kind == "newsletter", not_(confirmed))


def _excluded(box, preference):
    return or_(
        box.is_(True),
        Submission.blocking_signal.is_(True),
        Submission.erased_at.is_not(None),
        Submission.email.is_(None),
        _newsletter_not_confirmed(),
        _preference_off(preference),
    )


def shareable_submissions():
    """A query of every submission that may go into a marketing export."""
    return (
        select(Submission)
        .where(not_(_excluded(Submission.no_share, EmailPreference.sharing_off)))
        .order_by(Submission.id)
    )


def marketable_submissions():
    """A query of every submission that may be used for the store's own marketing."""
    return (
        select(Submission)
        .where(not_(_excluded(Submission.no_marketing, EmailPreference.marketing_off)))
        .order_by(Submission.id)
    )


def notice_audience():
    """Confirmed subscriptions whose signup allows marketing mail, by address.

    The signup that confirmed the subscription governs: its "don't use for
    marketing" box, its blocking signal, and the address's marketing
    preference on "your data".
    """
    allowed = marketable_submissions().where(Submission.kind == "newsletter").subquery()
    return (
        select(Subscription)
        .join(allowed, allowed.c.id == Subscription.submission_id)
        .where(Subscription.status == Subscription.CONFIRMED)
        .order_by(Subscription.email)
    )


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
