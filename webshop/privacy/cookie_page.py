"""What this browser sent and what the site stored about it, decoded for the person.

Every cookie in :data:`webshop.cookies.REGISTRY` is looked up in the
request, read through :func:`webshop.cookies.read` as the code that uses it
reads it, and explained
with its registered purpose and lifetime. Signed values are shown in their
three parts (payload, time of signing, signature), so the person can see
that the cart holds ids and quantities and nothing else. The session's
anti-forgery token is named but never printed.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import g, request, session
from itsdangerous import BadData
from itsdangerous.encoding import base64_decode, bytes_to_int

from .. import cart, cookies
from ..cookies import REGISTRY, CookieSpec
from ..db import db
from ..models import Product
from ..policy_text import POLICY_VERSION

SESSION_KEYS = {
    "csrf_token": "An anti-forgery token that proves this site's forms came from this site (not shown here).",
    "_flashes": "Notices waiting to be shown on the next page.",
    "my_data": 'That this browser opened "your data" through a mailed link, and until when.',
    "consent_log": "The numbers of the choices you made on the banner while this browser is open, so that "
    '"your data" can list a decline, which is linked to no visitor id.',
    "orders": "The numbers of the last orders placed in this browser, so that only it opens their pages.",
}


@dataclass
class SignedParts:
    payload: str
    timestamp: str
    signature: str
    signed_at: datetime | None


@dataclass
class CookieReport:
    spec: CookieSpec
    present: bool = False
    valid: bool = False
    parts: SignedParts | None = None
    details: list[tuple[str, str]] = field(default_factory=list)
    lines: list[tuple[int, int, str]] = field(default_factory=list)  # cart: id, quantity, product


def split_signed(value: str) -> SignedParts | None:
    """The three dot-separated parts of an itsdangerous value, without checking the signature."""
    pieces = value.rsplit(".", 2)
    if len(pieces) != 3:
        return None
    payload, timestamp, signature = pieces
    try:
        signed_at = datetime.fromtimestamp(bytes_to_int(base64_decode(timestamp)), UTC)
    except (BadData, ValueError, OverflowError, OSError):
        signed_at = None
    return SignedParts(payload, timestamp, signature, signed_at)


def _read(report: CookieReport):
    """The cookie's payload as :func:`webshop.cookies.read` gives it, noting on ``report`` whether it was accepted."""
    payload = cookies.read(report.spec.name)
    report.valid = payload is not None
    return payload


def _explain_cart(report: CookieReport, value: str) -> None:
    lines = cart.lines_from(cookies.read("cart"))
    report.valid = bool(lines)
    names = {}
    if lines:
        names = dict(db.session.execute(db.select(Product.id, Product.name).where(Product.id.in_(list(lines)))).all())
    report.lines = [(pid, qty, names.get(pid, "a product no longer sold")) for pid, qty in lines.items()]
    if not report.valid:
        report.details.append(("State", "Not accepted (bad signature, expired or malformed): read as an empty cart."))


def _explain_consent(report: CookieReport, value: str) -> None:
    _read(report)
    choice, version = g.get("consent_choice"), g.get("consent_version")
    if not report.valid or choice is None:
        report.valid = False
        report.details.append(("State", "Not accepted: the banner will be shown again."))
        return
    current = "the current version" if version == POLICY_VERSION else f"an older version (current: {POLICY_VERSION})"
    report.details.append(("Your choice", "accepted" if choice == "accept" else "declined"))
    report.details.append(("Policy version of the choice", f"{version}, {current}"))


def _explain_visitor(report: CookieReport, value: str) -> None:
    visitor_id = _read(report)
    if not report.valid:
        report.details.append(("State", "Not accepted: a new visitor id will be issued."))
        return
    report.details.append(("Visitor id", str(visitor_id)))
    if g.get("blocking_signal"):
        report.details.append(("While your browser sends a blocking signal", "this id is ignored and not stored."))


def _explain_session(report: CookieReport, value: str) -> None:
    report.valid = bool(session) or not value
    parts = split_signed(value)
    if parts and parts.signed_at:
        report.details.append(("Signed at", parts.signed_at.strftime("%Y-%m-%d %H:%M:%S UTC")))
    if not session:
        report.details.append(("Holds", "Nothing this site can read."))
    for key in session:
        report.details.append((key, SESSION_KEYS.get(key, "A value set by this site.")))


def _explain_staff_device(report: CookieReport, value: str) -> None:
    found = _read(report)
    if not report.valid or not isinstance(found, dict):
        report.details.append(("State", "Not accepted: staff sign-in treats this browser as new."))
        return
    report.details.append(("Staff account number", str(found.get("staff"))))


EXPLAIN = {
    "cart": _explain_cart,
    "consent": _explain_consent,
    "visitor": _explain_visitor,
    "session": _explain_session,
    "staff_device": _explain_staff_device,
}


def cookie_reports() -> list[CookieReport]:
    """One report per registered cookie, in registry order."""
    reports = []
    for name, spec in REGISTRY.items():
        report = CookieReport(spec)
        value = request.cookies.get(name)
        if value:
            report.present = True
            if name != "session":  # its payload holds the anti-forgery token
                report.parts = split_signed(value)
            EXPLAIN[name](report, value)
        reports.append(report)
    return reports


def unregistered_cookie_names() -> list[str]:
    """Names of cookies the browser sent that this site never sets (ignored)."""
    return sorted(name[:60] for name in request.cookies if name not in REGISTRY)
