"""Proof that a browser owns an address: the "your data" session grant, and the submissions it proves.

Opening the link mailed by "your data" (:mod:`webshop.privacy.my_data`)
gives this browser's session a grant for that address, for
``MY_DATA_SESSION_MAX_AGE`` seconds. While it lasts, what the browser sends
under the address is proven as it is sent, and what it sent before under
the address is proven when the link is opened (``Submission.proven_at``,
read by the rules in :mod:`webshop.rules`). Nothing else this browser does
proves an address.
"""

from datetime import datetime

from sqlalchemy import update

from .db import db
from .links import current_grant
from .models import Submission, utcnow


def session_proof(email: str | None) -> datetime | None:
    """The time, if this browser has "your data" open for ``email`` (proof for what it sends now)."""
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
