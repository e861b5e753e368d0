"""The consent banner, the visitor's choice (accept or decline), blocking signals and withdrawal.

The first hook of every request: what it decides is read by everything
after it, visit recording included. ``g.consent_choice`` and
``g.consent_version`` are the choice this browser made and the policy
version it was made for; ``g.consent_acknowledged`` says it accepted the
current version. ``g.gpc`` and ``g.dnt`` are the browser's signals and
``g.declined`` a decline on the banner; any of them makes
``g.blocking_signal`` true, so the request is counted without IP, domain
or visitor id, and whatever it submits is kept as "don't share".

Every decision is written to the consent log (:class:`ConsentDecision`).
A browser that declines, or sends a blocking signal, while it still holds
a visitor id withdraws: :func:`withdraw` logs it, marks every earlier
submission of that id withdrawn (never shared again) and the response
deletes the visitor cookie, so it happens once.
"""

import logging
import secrets

from flask import Blueprint, current_app, g, redirect, render_template, request, session
from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from . import cookies
from .consent_banner import consent_banner
from .db import db
from .models import ConsentDecision, Submission, audit, utcnow
from .policy_text import POLICY_VERSION, changes_since
from .responses import current_path, safe_next
from .visits.identity import VISITOR_COOKIE, read_visitor_id

log = logging.getLogger(__name__)

bp = Blueprint("consent", __name__)

COOKIE = "consent"
CHOICES = (ConsentDecision.ACCEPT, ConsentDecision.DECLINE)
SOURCES = ("banner", "my-data", "privacy")  # where a visitor can make the choice; "gpc" is never posted
GPC_SOURCE = "gpc"
SESSION_LOG_KEY = "consent_log"  # ids of this browser session's decisions, so it sees the ones linked to no id
SESSION_LOG_MAX = 20


def header_says_one(name: str) -> bool:
    """True if any ``name`` header carries the value ``1``.

    Several headers, or one header with comma-separated values, count as
    ``1`` if any of them is exactly ``1``; every other value is ignored.
    """
    for value in request.headers.getlist(name):
        if any(part.strip() == "1" for part in value.split(",")):
            return True
    return False


def read_choice() -> tuple[str | None, str | None]:
    """The (choice, policy version) of this browser's consent cookie, or (None, None).

    A bare version string is the cookie of an earlier release, when the
    banner only acknowledged: it reads as accepting that version. Anything
    else that is not a choice reads as no choice, so the banner asks again.
    """
    value = cookies.read(COOKIE)
    if value is None:
        return None, None
    if isinstance(value, str) and 0 < len(value) <= 20:
        return ConsentDecision.ACCEPT, value
    if isinstance(value, dict):
        choice, version = value.get("choice"), value.get("version")
        if choice in CHOICES and isinstance(version, str) and 0 < len(version) <= 20:
            return choice, version
    log.warning("consent cookie holds no valid choice; read as no choice")
    return None, None


def read_signals():
    if request.endpoint == "static":
        return
    g.gpc = header_says_one("Sec-GPC")
    g.dnt = header_says_one("DNT")
    g.consent_choice, g.consent_version = read_choice()
    # A decline holds for every version: the banner asks again after a change, but nothing is linked meanwhile.
    g.declined = g.consent_choice == ConsentDecision.DECLINE
    g.blocking_signal = g.gpc or g.dnt or g.declined
    g.consent_acknowledged = g.consent_version == POLICY_VERSION and g.consent_choice == ConsentDecision.ACCEPT
    g.consent_chosen = g.consent_version == POLICY_VERSION


def log_decision(choice: str, source: str, visitor_id: str | None) -> ConsentDecision:
    """Add a decision to the consent log (the caller commits)."""
    decision = ConsentDecision(policy_version=POLICY_VERSION, choice=choice, source=source, visitor_id=visitor_id)
    db.session.add(decision)
    g.setdefault("consent_decisions", []).append(decision)
    return decision


def remember_in_session() -> None:
    """Keep this request's decision ids in the session cookie, so "your data" can list them to this browser.

    A decline is stored linked to nothing; only the browser that made it
    holds its number, until it is closed.
    """
    made = [decision.id for decision in g.get("consent_decisions", [])]
    if made:
        session[SESSION_LOG_KEY] = (session.get(SESSION_LOG_KEY, []) + made)[-SESSION_LOG_MAX:]


def withdraw(visitor_id: str, source: str) -> int:
    """Withdraw the consent given with ``visitor_id`` (the caller commits and deletes the cookie).

    Logs the withdrawal and marks every earlier submission of that visitor
    id withdrawn, which keeps it out of every export from now on. Returns
    how many submissions it marked.
    """
    log_decision(ConsentDecision.WITHDRAW, source, visitor_id)
    marked = db.session.execute(
        update(Submission)
        .where(Submission.visitor_id == visitor_id, Submission.withdrawn_at.is_(None))
        .values(withdrawn_at=utcnow())
    ).rowcount
    audit("visitor", "consent.withdrawn", source=source, submissions=marked)
    g.consent_withdrawn = True
    return marked


def withdraw_on_signal(response):
    """A blocking signal from a browser that still holds a visitor id withdraws its consent, once."""
    if request.endpoint == "static" or g.get("consent_withdrawn") or not (g.get("gpc") or g.get("dnt")):
        return response
    if request.cookies.get(VISITOR_COOKIE) is None:
        return response
    visitor_id = read_visitor_id()
    if visitor_id is not None:
        try:
            withdraw(visitor_id, GPC_SOURCE)
            db.session.commit()
        except SQLAlchemyError:
            # Keep the cookie: the next request with the signal withdraws. The page itself was served.
            db.session.rollback()
            log.warning("withdrawal on a blocking signal could not be stored; it is tried again next time")
            return response
        remember_in_session()
    cookies.delete(response, VISITOR_COOKIE)
    return response


def refused(text: str):
    return render_template("error.html", code=400, title="Choice not understood", text=text), 400


@bp.post("/consent")
def choose():
    """Store the visitor's choice for the current policy version and log it.

    Without JavaScript the banner's form posts here and comes back to the
    page it was on; with JavaScript the same POST is sent in the background
    and answered with 204. Accepting gives the browser its visitor id in
    this response; declining while holding one withdraws and deletes it.
    """
    choice = request.form.get("choice")
    if choice not in CHOICES:
        return refused(
            'The form must say "accept" or "decline". Nothing was changed; go back and press one of the two buttons.'
        )
    source = request.form.get("source") or "banner"
    if source not in SOURCES:
        return refused("That form names a page this shop does not know. Nothing was changed.")
    if request.headers.get("X-Requested-With") == "fetch":
        response = current_app.response_class(status=204)
    else:
        response = redirect(safe_next(request.form.get("next")), code=303)
    cookies.write(response, COOKIE, {"choice": choice, "version": POLICY_VERSION})
    held = read_visitor_id()
    visitor_id = None
    if choice == ConsentDecision.ACCEPT:
        g.consent_acknowledged = True
        if not (g.gpc or g.dnt):
            g.blocking_signal = g.declined = False
            visitor_id = held or secrets.token_urlsafe(16)
            g.visitor_id = visitor_id
            if visitor_id != held:
                cookies.write(response, VISITOR_COOKIE, visitor_id)
        log_decision(choice, source, visitor_id)
    else:
        g.consent_acknowledged = False
        g.visitor_id = None
        if held is not None:
            withdraw(held, source)
        else:
            log_decision(choice, source, None)
        if request.cookies.get(VISITOR_COOKIE) is not None:
            cookies.delete(response, VISITOR_COOKIE)
    db.session.commit()
    remember_in_session()
    return response


def decisions_of_browser(visitor_id: str | None) -> list[ConsentDecision]:
    """This browser's consent log: the decisions linked to its visitor id and those its session remembers."""
    remembered = session.get(SESSION_LOG_KEY, [])
    ids = [i for i in remembered if isinstance(i, int)] if isinstance(remembered, list) else []
    conditions = [ConsentDecision.id.in_(ids)] if ids else []
    if visitor_id:
        conditions.append(ConsentDecision.visitor_id == visitor_id)
    if not conditions:
        return []
    query = select(ConsentDecision).where(or_(*conditions)).order_by(ConsentDecision.at, ConsentDecision.id)
    return list(db.session.execute(query).scalars())


def init_app(app):
    app.before_request(read_signals)
    app.after_request(withdraw_on_signal)
    app.register_blueprint(bp)

    @app.context_processor
    def consent_in_templates():
        changes = changes_since(g.consent_version) if g.get("consent_version") else ()
        return {
            "show_banner": not g.get("consent_chosen", True),
            "consent_banner": lambda: consent_banner(POLICY_VERSION, changes),
            "current_path": current_path,
            "policy_version": POLICY_VERSION,
            "policy_changes": changes,
        }
