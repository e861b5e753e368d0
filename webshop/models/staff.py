"""The staff side's tables: accounts, sign-in sessions and throttling, site-update notices."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import db, utcnow


class StaffUser(db.Model):
    """A staff account; the password is kept only as a werkzeug hash.

    Ids are never reused (AUTOINCREMENT on SQLite, a sequence on
    PostgreSQL): anything that still names a removed account's id, such as
    a session row left behind where foreign keys are off or a device
    cookie, can never point at a later account.
    """

    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]

    # Deleting an account through the ORM deletes its sessions itself, and the
    # foreign key's ON DELETE CASCADE covers plain SQL wherever keys are enforced.
    sessions: Mapped[list["StaffSession"]] = relationship(
        back_populates="staff", cascade="all, delete-orphan", passive_deletes=False
    )


class StaffSession(db.Model):
    """One signed-in browser. The cookie holds a random token; only its SHA-256 is stored.

    Every sign-in makes a new one and signing out deletes it, so a session
    cookie copied before either is worth nothing.
    """

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    staff: Mapped[StaffUser | None] = relationship(back_populates="sessions")


class SignInThrottle(db.Model):
    """Failed sign-ins per account name or per client IP (``key`` is "account:…" or "ip:…").

    Kept in the database so every worker process sees the same count.
    """

    key: Mapped[str] = mapped_column(String(140), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]


class Notice(db.Model):
    """A site-update notice composed by staff and mailed to the notice audience."""

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(150))
    body: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NoticeDelivery(db.Model):
    """One notice sent to one subscription; unique, so a resend never mails anyone twice.

    Only the subscription's id is kept, no address: erasing the
    subscription leaves nothing personal here.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id", ondelete="CASCADE"))
    subscription_id: Mapped[int]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("notice_id", "subscription_id", name="uq_notice_delivery"),
        Index("ix_notice_delivery_notice", "notice_id"),
    )
