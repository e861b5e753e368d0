"""The single registry of every cookie the site sets, and the one way to read and write them.

Each entry names a cookie, the salt its value is signed with and the
setting that holds its lifetime, so reading checks exactly what writing
produced. The cookie page of the policy, "your data" and the code that sets
cookies all read this registry, so the list shown to visitors cannot drift
from what the browser actually receives.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, request
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.http import dump_cookie

from .signing import salted

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class CookieSpec:
    """One cookie: what reading and writing it needs, then what the policy tells visitors about it."""

    name: str
    salt: str | None = None  # None: not signed here (Flask signs the session itself)
    max_age_setting: str | None = None  # the config key of its lifetime in days; None: until the browser closes
    purpose: str
    lifetime: str
    contents: str
    set_when: str


REGISTRY = {
    spec.name: spec
    for spec in [
        CookieSpec(
            name="cart",
            salt="webshop.cart",
            max_age_setting="CART_MAX_AGE_DAYS",
            purpose="Remembers the items you mean to buy (the policy's example of a cookie).",
            lifetime="30 days after the cart last changed",
            contents="Product ids and quantities, signed so they cannot be altered. Never prices or personal data.",
            set_when="You add something to the cart.",
        ),
        CookieSpec(
            name="consent",
            salt="webshop.consent",
            max_age_setting="CONSENT_MAX_AGE_DAYS",
            purpose="Remembers your choice on the privacy banner, accept or decline, and for which policy version.",
            lifetime="1 year; the banner asks again when the policy changes",
            contents='Your choice ("accept" or "decline") and the policy version it applies to, signed. Nothing else.',
            set_when='You press "Accept" or "Decline" on the privacy banner, or change your choice on '
            '"your data" or the policy page.',
        ),
        CookieSpec(
            name="visitor",
            salt="webshop.visitor",
            max_age_setting="VISITOR_MAX_AGE_DAYS",
            purpose="Links the visits of this browser together so they can be combined with what you submit.",
            lifetime="1 year",
            contents="A random visitor id, signed.",
            set_when=(
                "After you accept on the privacy banner; never after you decline, nor while your browser "
                "sends Global Privacy Control or Do Not Track (either deletes it)."
            ),
        ),
        CookieSpec(
            name="session",
            purpose=(
                'Holds the anti-forgery (CSRF) token for forms and one-time notices such as "added to cart"; '
                "for staff, also their sign-in."
            ),
            lifetime="Until you close the browser",
            contents=(
                "A random token and pending notices, signed; the numbers of the last orders placed in this "
                "browser, so that only it opens their pages; for signed-in staff, a random sign-in token."
            ),
            set_when="You open a page with a form, an action leaves a notice, or staff sign in.",
        ),
        CookieSpec(
            name="staff_device",
            salt="webshop.staff-device",
            max_age_setting="STAFF_DEVICE_MAX_AGE_DAYS",
            purpose=(
                "Staff only: shows that this browser signed in to a staff account before, so that a flood of "
                "wrong passwords from elsewhere does not pause sign-in here."
            ),
            lifetime="90 days after the last staff sign-in",
            contents="The staff account's number and a random device id, signed. Never the password.",
            set_when="A staff member signs in.",
        ),
    ]
}


def is_secure_request() -> bool:
    """Whether cookies should carry the Secure attribute."""
    return request.is_secure or current_app.config["PREFERRED_URL_SCHEME"] == "https"


def serializer(name: str) -> URLSafeTimedSerializer:
    """The serializer of the signed cookie ``name``, with its registered salt."""
    salt = REGISTRY[name].salt
    if salt is None:
        raise ValueError(f"the {name} cookie is not signed by this registry")
    return salted(salt)


def max_age(name: str) -> timedelta | None:
    """The registered lifetime of cookie ``name``; None while the browser is open."""
    setting = REGISTRY[name].max_age_setting
    return timedelta(days=current_app.config[setting]) if setting else None


def read(name: str):
    """The payload of the signed cookie ``name`` this request sent, or None.

    None when the cookie is absent, its signature is wrong (under every key,
    fallbacks included) or it is older than its registered lifetime: a bad
    cookie reads as no cookie, never as an error.
    """
    value = request.cookies.get(name)
    if not value:
        return None
    age = max_age(name)
    try:
        return serializer(name).loads(value, max_age=int(age.total_seconds()) if age else None)
    except BadData as error:
        log.warning("%s cookie rejected (%s); read as if it were not sent", name, type(error).__name__)
        return None


def _attributes(name: str) -> dict:
    return {"max_age": max_age(name), "httponly": True, "samesite": "Lax", "secure": is_secure_request()}


def sign(name: str, payload) -> str:
    """``payload`` signed as the value of cookie ``name``, for :func:`set_cookie_header`."""
    return serializer(name).dumps(payload)


def write(response, name: str, payload) -> None:
    """Set cookie ``name`` to ``payload``, signed, with the site's attributes and its registered lifetime."""
    write_header(response, set_cookie_header(name, sign(name, payload)))


def set_cookie_header(name: str, value: str) -> str:
    """The whole Set-Cookie header for ``value`` (made by :func:`sign`): the site's attributes and the
    registered lifetime. Its length is the cookie's size as browsers count it."""
    attributes = _attributes(name)
    age = attributes.pop("max_age")
    return dump_cookie(name, value, max_age=age, max_size=0, **attributes)


def write_header(response, header: str) -> None:
    """Send a header :func:`set_cookie_header` made."""
    response.headers.add("Set-Cookie", header)


def delete(response, name: str) -> None:
    """Tell the browser to drop cookie ``name``."""
    REGISTRY[name]  # only registered cookies exist
    response.delete_cookie(name, httponly=True, samesite="Lax", secure=is_secure_request())
