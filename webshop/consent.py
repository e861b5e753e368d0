"""The consent banner, the acknowledged policy version and blocking signals.

The first hook of every request: what it decides is read by everything
after it, visit recording included. ``g.blocking_signal`` says the browser
sent Global Privacy Control or Do Not Track; ``g.consent_acknowledged`` says
the banner was acknowledged for the current policy version.
"""

from flask import Blueprint, current_app, g, redirect, request

from . import cookies
from .policy_text import POLICY_VERSION, changes_since
from .responses import current_path, safe_next

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
    version = cookies.read(COOKIE)
    g.consent_version = version if isinstance(version, str) else None
    g.consent_acknowledged = g.consent_version == POLICY_VERSION


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
    cookies.write(response, COOKIE, POLICY_VERSION)
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
            "policy_changes": changes_since(g.consent_version) if g.get("consent_version") else (),
        }
