"""Single-use links mailed to an address, and the access a used "your data" link grants.

A link's token is a signed dictionary naming a row and the nonce that row
holds: an :class:`~webshop.models.AccessLink` ("your data" for an address,
and moving everything to a new address) or a newsletter
:class:`~webshop.models.Subscription` (its confirmation, which also names
the signup it confirms). Each purpose signs with a salt of its own
(:mod:`webshop.signing`), so a token made for one is refused by every
other, and has its own lifetime, a setting in seconds.

:func:`issue` gives the row a fresh nonce and returns the token;
:func:`load` returns the link a token stands for or raises
:class:`Refused` saying why not; :func:`use` replaces the nonce in one
UPDATE that matches the old one, so of two requests carrying the same link
only one uses it. A used access link stays behind as the grant of the
browser that used it, keyed by its new nonce, for
``MY_DATA_SESSION_MAX_AGE`` seconds (:func:`current_grant`). See
docs/privacy-practices.md.
"""

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app, session
from itsdangerous import BadData, SignatureExpired
from sqlalchemy import update

from .db import db
from .models import AccessLink, Subscription, utcnow
from .signing import serializer

# Why a link is refused.
EXPIRED = "expired"  # older than its lifetime
USED = "used"  # used already, or replaced by a newer link to the same row
GONE = "gone"  # the row it names was deleted (closed, erased, moved)
BAD = "bad"  # not a token of this purpose: altered, cut short, or signed for something else


@dataclass(frozen=True)
class Purpose:
    """One kind of single-use link: its salt, lifetime and the row it names."""

    salt: str  # its serializer in webshop.signing
    model: type
    id_key: str  # the key of the row's id in the token
    nonce: str  # the row's column holding the nonce
    max_age: str  # the setting with its lifetime in seconds
    row_purpose: str | None = None  # AccessLink.purpose, where one table holds several kinds
    grant: bool = False  # once used, the row stays as a grant: a fresh nonce (its key) and used_at


MY_DATA = Purpose("my-data", AccessLink, "link", "nonce", "MY_DATA_LINK_MAX_AGE", AccessLink.ACCESS, grant=True)
EMAIL_CHANGE = Purpose(
    "email-change", AccessLink, "link", "nonce", "MY_DATA_LINK_MAX_AGE", AccessLink.EMAIL_CHANGE, grant=True
)
NEWSLETTER_CONFIRM = Purpose("newsletter-confirm", Subscription, "id", "confirm_nonce", "NEWSLETTER_CONFIRM_MAX_AGE")


class Refused(Exception):
    """A link that is not good; ``reason`` is one of EXPIRED, USED, GONE, BAD."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Link:
    """A good link: its purpose, the row it names and everything its token carries."""

    purpose: Purpose
    row: object
    payload: dict = field(repr=False)


def new_nonce() -> str:
    return secrets.token_hex(16)


def issue(purpose: Purpose, row, **extra) -> str:
    """Give ``row`` a fresh nonce and return the token of a link to it (the caller commits).

    Any earlier link to ``row`` stops working. ``extra`` goes into the
    token as it is (the newsletter's ``submission`` id).
    """
    setattr(row, purpose.nonce, new_nonce())
    db.session.flush()  # the row's id
    return serializer(purpose.salt).dumps({purpose.id_key: row.id, "nonce": getattr(row, purpose.nonce), **extra})


def load(purpose: Purpose, token: str) -> Link:
    """The unused link ``token`` stands for; raises :class:`Refused` with the reason it is not good."""
    try:
        payload = serializer(purpose.salt).loads(token, max_age=current_app.config[purpose.max_age])
    except SignatureExpired:
        raise Refused(EXPIRED) from None
    except BadData:
        raise Refused(BAD) from None
    if not isinstance(payload, dict) or type(payload.get(purpose.id_key)) is not int:
        raise Refused(BAD)
    row = db.session.get(purpose.model, payload[purpose.id_key])
    if row is None:
        raise Refused(GONE)
    if purpose.row_purpose is not None and row.purpose != purpose.row_purpose:
        raise Refused(BAD)
    nonce, held = payload.get("nonce"), getattr(row, purpose.nonce)
    if (purpose.grant and row.used_at is not None) or not nonce or not held:
        raise Refused(USED)
    if not secrets.compare_digest(str(nonce), held):
        raise Refused(USED)
    return Link(purpose, row, payload)


def use(link: Link, **values) -> str | None:
    """Use ``link`` once: replace its row's nonce and set ``values`` on the row, in one UPDATE.

    Returns the new nonce: the key of the grant for a grant purpose, None
    otherwise (the nonce is cleared). The UPDATE matches only while the
    nonce is still the one the token carries; if another request used the
    link first, the session is rolled back and :class:`Refused` raised.
    """
    purpose, row = link.purpose, link.row
    model, column = purpose.model, getattr(purpose.model, purpose.nonce)
    query = update(model).where(model.id == row.id, column == getattr(row, purpose.nonce))
    fresh = None
    if purpose.grant:
        fresh = new_nonce()
        query = query.where(model.used_at.is_(None))
        values["used_at"] = utcnow()
    used = db.session.execute(query.values({purpose.nonce: fresh, **values}))
    if used.rowcount != 1:
        db.session.rollback()
        raise Refused(USED)
    return fresh


def revoke(purpose: Purpose, row) -> None:
    """Make every link of ``purpose`` to ``row`` stop working (the caller commits)."""
    setattr(row, purpose.nonce, None)


# --- The grant of a used "your data" link -----------------------------------------------------

GRANT_SESSION_KEY = "my_data"  # the session entry: {"link": id, "key": the nonce use() returned}


def current_grant() -> AccessLink | None:
    """The used access link behind this session's access to "your data", while it lasts."""
    grant = session.get(GRANT_SESSION_KEY)
    if not isinstance(grant, dict) or type(grant.get("link")) is not int:
        return None
    link = db.session.get(AccessLink, grant["link"])
    if link is None or link.purpose != AccessLink.ACCESS or link.used_at is None:
        return None
    if not secrets.compare_digest(str(grant.get("key", "")), link.nonce):
        return None
    if grant_ends(link) < utcnow():
        return None
    return link


def grant_ends(link: AccessLink) -> datetime:
    return link.used_at + timedelta(seconds=current_app.config["MY_DATA_SESSION_MAX_AGE"])
