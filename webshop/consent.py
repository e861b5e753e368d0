"""The consent banner, the acknowledged policy version and blocking signals.

Runs before visit recording, which reads what this module decides:
``g.blocking_signal`` (the browser sent Global Privacy Control or Do Not
Track) and ``g.consent_acknowledged`` (the banner was acknowledged for the
current policy version).
"""

from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, request, url_for
from itsdangerous import BadData

from . import cookies
from .privacy.policy import POLICY_VERSION
from .signing import serializer

bp = Blueprint("consent", __name__)

COOKIE = "consent"


def header_says_one(name: str) -> bool:
    """True if any ``name`` header carries the value ``1``.

    Several headers, or one header with comma-separated values, count as
    ``1`` if any of them is exactly ``1``; every other value is ignored.
    """
    for value in request.headers.getlist(name):
        if any(part.strip() == "1" for part in value.split(",")):
            return True
    return False


def read_signals():
    if request.endpoint == "static":
        return
    g.gpc = header_says_one("Sec-GPC")
    g.dnt = header_says_one("DNT")
    g.blocking_signal = g.gpc or g.dnt
    g.consent_version = acknowledged_version()
    g.consent_acknowledged = g.consent_version == POLICY_VERSION


def acknowledged_version() -> str | None:
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    max_age = current_app.config["CONSENT_MAX_AGE_DAYS"] * 86400
    try:
        version = serializer("consent").loads(value, max_age=max_age)
    except BadData:
        return None
    return version if isinstance(version, str) else None


def safe_next(target: str | None) -> str:
    """A same-site path to return to, never another host."""
    if not target:
        return url_for("shop.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("shop.home")
    if "\\" in target or any(ord(c) < 32 for c in target):
        return url_for("shop.home")
    return target


def current_path() -> str:
    """This page's path with its query, to come back to; a query that is not UTF-8 is left off."""
    try:
        return request.full_path.rstrip("?")
    except UnicodeDecodeError:
        return request.path


@bp.post("/consent")
def acknowledge():
    """Store the acknowledgement of the current policy version.

    Without JavaScript the banner's form posts here and comes back to the
    page it was on; with JavaScript the same POST is sent in the background
    and answered with 204.
    """
    if request.headers.get("X-Requested-With") == "fetch":
        response = current_app.response_class(status=204)
    else:
        response = redirect(safe_next(request.form.get("next")), code=303)
    cookies.set_cookie(response, COOKIE, serializer("consent").dumps(POLICY_VERSION))
    g.consent_acknowledged = True
    return response


def init_app(app):
    app.before_request(read_signals)
    app.register_blueprint(bp)

    @app.context_processor
    def consent_in_templates():
        return {
            "show_banner": not g.get("consent_acknowledged", True),
            "current_path": current_path,
            "policy_version": POLICY_VERSION,
        }
