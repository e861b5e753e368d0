"""The organisations that may receive marketing lists, and the ledger of every export to them."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import db, utcnow


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
