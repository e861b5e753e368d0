"""Which keys the shop signs with, as fingerprints, so every host sharing the database can be compared."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow


class SigningKeyCheck(db.Model):
    """The fingerprint of one key every host of this shop must sign with.

    ``name`` is ``secret_key`` (cookies, CSRF tokens, mailed links, staff
    sessions) or ``receipt_key`` (consent receipts). The fingerprint reveals
    nothing of the key: an HMAC of a fixed label keyed by ``SECRET_KEY``, and
    the public key's RFC 7638 thumbprint (its published ``kid``).
    """

    SECRET_KEY, RECEIPT_KEY = "secret_key", "receipt_key"

    __tablename__ = "signing_key_check"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
