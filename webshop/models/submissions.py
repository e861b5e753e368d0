"""Submissions, the filled-in forms that carry personal information, and what each form keeps beside one.

Every row besides ``Submission`` points at the submission that carried it;
the submission holds what was entered, its opt-out choices and the request
context.
"""

import secrets
import uuid
from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import db, utcnow
from .catalogue import Product


def new_receipt_id() -> str:
    return str(uuid.uuid4())


class Submission(db.Model):
    """One filled-in form that carried personal information.

    Every personal-information form stores one of these: what was entered
    (``fields``), its own two opt-out choices, and the context of the request
    that carried it, so it can be combined with that browser's visits.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_receipt_id)
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    email: Mapped[str | None] = mapped_column(String(254))
    name: Mapped[str | None] = mapped_column(String(120))
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
    no_marketing: Mapped[bool] = mapped_column(default=False)
    no_share: Mapped[bool] = mapped_column(default=False)
    # The request that carried it.
    blocking_signal: Mapped[bool] = mapped_column(default=False)
    ip: Mapped[str | None] = mapped_column(String(45))
    domain: Mapped[str | None] = mapped_column(String(255))
    domain_confirmed: Mapped[bool] = mapped_column(default=False)
    visitor_id: Mapped[str | None] = mapped_column(String(64))
    policy_version: Mapped[str] = mapped_column(String(20))
    erased_at: Mapped[datetime | None]
    # When whoever sent it proved the address is theirs: they followed the
    # link mailed for this very submission, or their browser opened "your
    # data" for that address (before or after sending it). Without it the submission never leaves the store
    # nor reaches marketing (webshop.rules), and its visits are not joined
    # to the address's records.
    proven_at: Mapped[datetime | None]
    # The consent receipt exactly as given when the submission was made: the
    # JSON text served at /receipt/<id>.json and signed at /receipt/<id>.jwt.
    # Never rebuilt; erasure removes it, since it names the person.
    receipt_document: Mapped[str | None] = mapped_column(Text)
    # When the browser that sent it withdrew consent (or sent a blocking
    # signal later): from then on it is not shareable and its receipt is
    # REVOKED. What was shared before stays in the ledger, which says so.
    withdrawn_at: Mapped[datetime | None]
    # The SHA-256 of the single-use token the form carried when it was sent
    # (webshop.submissions): the same form sent again finds this row and
    # stores nothing. The unique index lets only one of two sends at once in.
    token_digest: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_submission_email", "email"),
        Index("ix_submission_token_digest", "token_digest", unique=True),
        Index("ix_submission_kind_created", "kind", "created_at"),
        Index("ix_submission_visitor", "visitor_id"),
        # ix_submission_share_candidates is declared in webshop.rules, from the sharing rules it serves.
    )


class SubmissionTally(db.Model):
    """Per form, the submissions held (not erased), how many ticked each opt-out box, and how many carry an address.

    Triggers on ``submission`` (migration 0014) change these in the statement that adds, erases or changes a
    submission, whatever code or SQL makes the change, so they always equal a count of the rows; the policy
    page shows them without counting every submission.
    """

    __tablename__ = "submission_tally"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    held: Mapped[int] = mapped_column(default=0)
    no_marketing: Mapped[int] = mapped_column(default=0)
    no_share: Mapped[int] = mapped_column(default=0)
    with_address: Mapped[int] = mapped_column(default=0)


class SubmissionDayTally(db.Model):
    """Per UTC day of ``created_at`` and form, the submissions held (not erased) and how many ticked each box.

    Kept by triggers on ``submission`` (migration 0017) as :class:`SubmissionTally` is, so the dashboard's
    opt-out rates over a period add up a row per day and form instead of counting the period's submissions.
    """

    __tablename__ = "submission_day_tally"

    day: Mapped[date] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    held: Mapped[int] = mapped_column(default=0)
    no_marketing: Mapped[int] = mapped_column(default=0)
    no_share: Mapped[int] = mapped_column(default=0)


class EmailPreference(db.Model):
    """Choices an address made on "your data", going forward, for all its records.

    They sit beside the per-submission boxes and never change them: turning
    sharing back on here cannot share a submission whose own box said no.
    """

    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    marketing_off: Mapped[bool] = mapped_column(default=False)
    sharing_off: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def new_unsubscribe_token() -> str:
    return secrets.token_urlsafe(32)


class Subscription(db.Model):
    """One newsletter address and where it stands in double opt-in.

    ``confirm_nonce`` belongs to the latest confirmation link sent; using
    the link clears it, and a new signup replaces it, so every link works
    once at most. ``submission`` is the signup that was confirmed (or is
    waiting to be): its opt-out choices govern mail to this address.

    ``unsubscribe_token`` is the random part of the one-click unsubscribe
    link in every mail to this address. It is stored rather than signed, so
    the link keeps working for as long as the subscription exists, whatever
    happens to the secret key; it can unsubscribe and open the
    subscription's preference centre, nothing else, and it goes with the
    row when the address is erased.
    """

    PENDING, CONFIRMED, UNSUBSCRIBED = "pending", "confirmed", "unsubscribed"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    topics: Mapped[list] = mapped_column(JSON, default=list)
    confirm_nonce: Mapped[str | None] = mapped_column(String(32))
    unsubscribe_token: Mapped[str] = mapped_column(String(43), unique=True, default=new_unsubscribe_token)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    # The address of the request that followed the confirmation link (listmonk's record_optin_ip).
    confirmed_ip: Mapped[str | None] = mapped_column(String(45))
    # Set while the subscriber has paused every mail from the preference centre.
    paused_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]

    submission: Mapped[Submission | None] = relationship()


class ProductRegistration(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    serial_number: Mapped[str] = mapped_column(String(40))
    purchase_date: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    submission: Mapped[Submission] = relationship()
    product: Mapped[Product] = relationship()


class BoardPost(db.Model):
    """A bulletin-board post: shown to everyone unless staff hide it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    hidden: Mapped[bool] = mapped_column(default=False)

    submission: Mapped[Submission] = relationship()

    __table_args__ = (Index("ix_board_post_listing", "hidden", "created_at"),)


class ChatMessage(db.Model):
    """A message in the chat room: shown to everyone unless staff hide it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    hidden: Mapped[bool] = mapped_column(default=False)

    submission: Mapped[Submission] = relationship()
