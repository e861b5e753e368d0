"""The audit trail: who did what to personal data, in ids and counts only."""

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow


class AuditEvent(db.Model):
    """An audit line: who did what to personal data. Never holds personal data itself."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))  # a staff name, or "visitor"
    action: Mapped[str] = mapped_column(String(60))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)  # ids and counts only


def audit(actor: str, action: str, **detail) -> AuditEvent:
    """Add an audit line to the session (the caller commits). Pass ids and counts only."""
    event = AuditEvent(actor=actor, action=action, detail=detail)
    db.session.add(event)
    return event
