"""Sharing and marketing, default-deny (SPEC §4), and the sharing ledger.

A submission reaches a marketing export only if none of these hold: its
"don't share" box was ticked, a blocking signal came with it, it was erased,
it has no address, whoever sent it did not prove the address is theirs, it
is a newsletter signup whose address is not (or no longer) confirmed, or
the person turned sharing off for their address on "your data". Marketing
mail follows the same rule with the "don't use for marketing" box and the
marketing preference. The rules are written once, in :func:`exclusions`,
each with its SQL condition and its reason in words: the export, the
notices and the policy page's verdicts all read them.

Proof is per submission (``Submission.proven_at``): an address confirmed
somewhere proves nothing about a later submission of it by someone else.
A submission is proven when the link mailed for it is followed (the
newsletter confirmation), or when the browser that sent it had, or later
opens, "your data" for its address. Other forms mail no such link, so
their addresses are excluded unless proven that way.

Every export writes a ledger entry naming the recipient, purpose, time,
staff member and exactly which submissions.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, exists, not_, or_, select, update

from .db import db
from .models import EmailPreference, LedgerEntry, LedgerItem, Recipient, Submission, Subscription, utcnow

# --- Default-deny, written once -----------------------------------------------------------------


@dataclass(frozen=True)
class Use:
    """A use beyond the form itself: sharing with other organisations, or our own marketing."""

    name: str
    box: ColumnElement[bool]  # the submission's own opt-out box holds
    box_reason: str
    preference: ColumnElement[bool]  # the address's "your data" preference column
    preference_reason: str


SHARING = Use(
    "sharing",
    # A blocking signal forces the box; it is then named as the signal, not twice.
    and_(Submission.no_share.is_(True), not_(Submission.blocking_signal.is_(True))),
    '"don\'t share" was ticked on it',
    EmailPreference.sharing_off,
    'its address turned sharing off on "your data"',
)
MARKETING = Use(
    "marketing",
    Submission.no_marketing.is_(True),
    '"don\'t use for marketing" was ticked on it',
    EmailPreference.marketing_off,
    'its address turned marketing off on "your data"',
)

UNPROVEN_REASON = (
    "whoever sent it has not proven the address is theirs: a newsletter signup counts once the "
    'link mailed for it is followed, any other form only if the browser that sent it opened "your '
    'data" for that address, before or after sending it'
)


@dataclass(frozen=True)
class Exclusion:
    """One default-deny rule: the SQL condition that excludes a submission, and why, in words.

    ``about_address`` rules depend on the address's state (its subscription,
    its preferences), not only on the submission: what they say is shown
    only to a browser that proved the address.
    """

    key: str
    condition: ColumnElement[bool]
    reason: str
    about_address: bool = False


def _preference_off(column):
    """True when the submission's address has turned this use off going forward."""
    return exists().where(EmailPreference.email == Submission.email, column.is_(True))


def _newsletter_not_confirmed():
    """True for a newsletter signup whose address is not currently confirmed."""
    confirmed = exists().where(
        Subscription.email == Submission.email, Subscription.status == Subscription.CONFIRMED
    )
    return and_(Submission.kind == "newsletter", not_(confirmed))


def proven():
    """True for a submission whose sender proved its address (see ``Submission.proven_at``)."""
    return Submission.proven_at.is_not(None)


def exclusions(use: Use) -> list[Exclusion]:
    """Every rule that keeps a submission from ``use``; it is allowed only when none holds."""
    return [
        Exclusion("box", use.box, use.box_reason),
        Exclusion(
            "blocking",
            Submission.blocking_signal.is_(True),
            "it came with a blocking signal (Global Privacy Control or Do Not Track)",
        ),
        Exclusion("erased", Submission.erased_at.is_not(None), "it was erased"),
        Exclusion(
            "no-email", Submission.email.is_(None), "it carries no email address, so there is nothing to put on a list"
        ),
        Exclusion("unproven", not_(proven()), UNPROVEN_REASON),
        Exclusion(
            "not-subscribed",
            _newsletter_not_confirmed(),
            "its newsletter address is not confirmed (or was unsubscribed)",
            about_address=True,
        ),
        Exclusion("preference", _preference_off(use.preference), use.preference_reason, about_address=True),
    ]


def session_proof(email: str | None) -> datetime | None:
    """The time, if this browser has "your data" open for ``email`` (proof for what it sends now)."""
    from .privacy.my_data import current_grant

    grant = current_grant() if email else None
    return utcnow() if grant is not None and grant.email == email else None


def prove_browser_submissions(email: str, visitor_id: str | None) -> int:
    """Mark proven what this browser sent under ``email`` before it opened "your data" for it.

    Opening the mailed link proves the address for the browser that opens
    it, and so for what that browser itself sent, found through its visitor
    id; never for what other browsers sent under the address. The caller
    commits; returns how many submissions became proven.
    """
    if not visitor_id:
        return 0
    return db.session.execute(
        update(Submission)
        .where(
            Submission.email == email,
            Submission.visitor_id == visitor_id,
            Submission.erased_at.is_(None),
            Submission.proven_at.is_(None),
        )
        .values(proven_at=utcnow())
    ).rowcount


def _allowed(use: Use):
    return not_(or_(*(rule.condition for rule in exclusions(use))))


def shareable_submissions():
    """A query of every submission that may go into a marketing export."""
    return select(Submission).where(_allowed(SHARING)).order_by(Submission.id)


def marketable_submissions():
    """A query of every submission that may be used for the store's own marketing."""
    return select(Submission).where(_allowed(MARKETING)).order_by(Submission.id)


def exclusions_holding(use: Use, ids) -> dict[int, list[Exclusion]]:
    """For each of ``ids``, the rules of ``use`` that hold for it now (none: it is allowed).

    One query, evaluating the very conditions the export and the notices use.
    """
    ids = list(ids)
    if not ids:
        return {}
    rules = exclusions(use)
    rows = db.session.execute(
        select(Submission.id, *(case((rule.condition, 1), else_=0) for rule in rules)).where(Submission.id.in_(ids))
    ).all()
    return {row[0]: [rule for rule, hit in zip(rules, row[1:], strict=True) if hit] for row in rows}


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
