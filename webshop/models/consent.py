"""The consent log: every banner decision and every change of mind, as it was made."""

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow


class ConsentDecision(db.Model):
    """One decision about the privacy notice: accept, decline or withdraw.

    ``visitor_id`` is the browser's visitor id where it has one: an accept
    (the id it is given), or a withdrawal (the id it gives up). A browser
    that declines keeps no id, so its decisions are counted but linked to
    nothing. ``source`` says where it was made: the banner, "your data",
    the policy page, or a blocking signal that arrived later.
    """

    ACCEPT, DECLINE, WITHDRAW = "accept", "decline", "withdraw"
    CHOICES = (ACCEPT, DECLINE, WITHDRAW)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    policy_version: Mapped[str] = mapped_column(String(20))
    choice: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(10))
    visitor_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_consent_decision_visitor", "visitor_id"),
        Index("ix_consent_decision_at", "at"),
    )
