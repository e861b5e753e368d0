"""The single registry of every cookie the site sets, and the one way to set them.

The cookie page of the policy, "your data" and the code that writes cookies
all read this registry, so the list shown to visitors cannot drift from
what the browser actually receives.
"""

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, request
from werkzeug.http import dump_cookie


@dataclass(frozen=True)
class CookieSpec:
    name: str
    purpose: str
    lifetime: str
    contents: str
    set_when: str
    config_max_age: str | None = None  # config key holding the age in days


REGISTRY = {
    spec.name: spec
    for spec in [
        CookieSpec(
            name="cart",
            purpose="Remembers the items you mean to buy (the policy's example of a cookie).",
            lifetime="30 days after the cart last changed",
            contents="Product ids and quantities, signed so they cannot be altered. Never prices or personal data.",
            set_when="You add something to the cart.",
            config_max_age="CART_MAX_AGE_DAYS",
        ),
        CookieSpec(
            name="consent",
            purpose="Remembers that you acknowledged the privacy notice, and for which policy version.",
            lifetime="1 year, or until the policy changes",
            contents="The policy version you acknowledged, signed.",
            set_when="You press \"OK\" on the privacy banner.",
            config_max_age="CONSENT_MAX_AGE_DAYS",
        ),
        CookieSpec(
            name="visitor",
            purpose="Links the visits of this browser together so they can be combined with what you submit.",
            lifetime="1 year",
            contents="A random visitor id, signed.",
            set_when=(
                "After you acknowledge the privacy banner, and never while your browser "
                "sends Global Privacy Control or Do Not Track."
            ),
            config_max_age="VISITOR_MAX_AGE_DAYS",
        ),
        CookieSpec(
            name="session",
            purpose=(
                "Holds the anti-forgery (CSRF) token for forms and one-time notices such as \"added to cart\"; "
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
            purpose=(
                "Staff only: shows that this browser signed in to a staff account before, so that a flood of "
                "wrong passwords from elsewhere does not pause sign-in here."
            ),
            lifetime="90 days after the last staff sign-in",
            contents="The staff account's number and a random device id, signed. Never the password.",
            set_when="A staff member signs in.",
            config_max_age="STAFF_DEVICE_MAX_AGE_DAYS",
        ),
    ]
}


def is_secure_request() -> bool:
    """Whether cookies should carry the Secure attribute."""
    return request.is_secure or current_app.config["PREFERRED_URL_SCHEME"] == "https"


def _attributes(name: str) -> dict:
    spec = REGISTRY[name]
    max_age = None
    if spec.config_max_age:
        max_age = timedelta(days=current_app.config[spec.config_max_age])
    return {"max_age": max_age, "httponly": True, "samesite": "Lax", "secure": is_secure_request()}


def set_cookie(response, name: str, value: str) -> None:
    """Set a registered cookie with the site's attributes and its registered lifetime."""
    response.set_cookie(name, value, **_attributes(name))


def header_size(name: str, value: str) -> int:
    """Bytes of the whole Set-Cookie value, attributes included, as browsers count it."""
    attributes = _attributes(name)
    max_age = attributes.pop("max_age")
    return len(dump_cookie(name, value, max_age=max_age, max_size=0, **attributes))


def delete_cookie(response, name: str) -> None:
    REGISTRY[name]  # only registered cookies exist
    response.delete_cookie(name, httponly=True, samesite="Lax", secure=is_secure_request())
