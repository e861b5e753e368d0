"""The signed links that open "your data" and change an address."""

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow


class AccessLink(db.Model):
    """A signed link mailed to an address, and what it grants once used.

    ``purpose`` is ``access`` (open "your data" for ``email``) or
    ``email-change`` (move everything under ``email`` to ``new_email``).
    The link carries this row's id and ``nonce``; using it replaces the
    nonce, so the same link never works twice. A used access link is the
    grant behind the visitor's session until it expires, is closed, or the
    data is erased (which deletes the row).
    """

    ACCESS, EMAIL_CHANGE = "access", "email-change"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(254))
    new_email: Mapped[str | None] = mapped_column(String(254))
    nonce: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_access_link_email", "email"),
        Index("ix_access_link_created", "created_at"),
    )
