""" "Your data": this browser at once, and everything under an email address (docs/privacy-practices.md).

The browser part needs nothing but the request: what was stored about it
and every registered cookie it sent, decoded. Everything under an address
is opened by a link mailed to that address. The link form answers every
syntactically valid address the same way and mails it whether or not the
store holds anything under it, so the page never reveals who is known.

A link is a single-use link (:mod:`webshop.links`): an
:class:`~webshop.models.AccessLink` id and nonce, signed with its own salt
and limited by ``MY_DATA_LINK_MAX_AGE``. Opening it shows a button;
pressing it (a POST) uses it, so it works once, and gives this browser's
session access for ``MY_DATA_SESSION_MAX_AGE`` seconds. A new address is
verified the same way with the ``email-change`` salt; until that link is
used nothing changes.
Every change is a CSRF-protected POST, and every page is ``private, no-store``.
"""

import json
from datetime import timedelta
from functools import wraps

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from sqlalchemy import delete, or_, select
from wtforms import BooleanField
from wtforms.validators import InputRequired

from .. import consent, cookies, links, mail, shorten, visits
from ..db import db, utc_text
from ..fields import email_field, text_field
from ..limits import configured, limiter
from ..links import GRANT_SESSION_KEY, current_grant, grant_ends
from ..models import AccessLink, Submission, Visit, audit, utcnow
from ..policy_text import POLICY_VERSION
from ..proof import prove_browser_submissions
from ..responses import no_store
from ..shorten import mask_email
from ..text import plural
from ..visits.identity import VISITOR_COOKIE, current_identity, read_visitor_id
from . import cookie_page, holdings

bp = Blueprint("my_data", __name__)
bp.after_request(no_store)

MAX_PAGE = 10_000
VISITS_PER_PAGE = 20

CONFIG = {
    "MY_DATA_LINK_MAX_AGE": 3600,  # seconds a mailed link can be opened
    "MY_DATA_SESSION_MAX_AGE": 1800,  # seconds a used link gives this browser access
    "MY_DATA_LINK_INTERVAL": 60,  # seconds between two links mailed to one address
    "RATELIMIT_MY_DATA_LINK": "5 per minute;20 per hour",  # link requests per client
}


# --- Forms -------------------------------------------------------------------------------------


class LinkForm(FlaskForm):
    email = email_field("Your email address")


class DetailsForm(FlaskForm):
    name = text_field("Name", max_length=120, description="Leave empty to keep it as it is.")
    address = text_field(
        "Postal address",
        max_length=500,
        min_length=10,
        multiline=True,
        description="Used for anything we send you from now on. Leave empty to keep it as it is.",
        length_message="Enter a full postal address (10 to 500 characters).",
    )


class EmailChangeForm(FlaskForm):
    new_email = email_field("New email address")


class PreferencesForm(FlaskForm):
    marketing_off = BooleanField("Don't use anything under this address for marketing")
    sharing_off = BooleanField("Don't share anything under this address with other organisations")


class EraseForm(FlaskForm):
    confirm = BooleanField(
        "I understand that this erases everything under this address and cannot be undone",
        validators=[InputRequired("Tick the box to confirm the erasure; nothing was erased.")],
    )


class ButtonForm(FlaskForm):
    """A form that is only a button and its anti-forgery token."""


# --- Links -------------------------------------------------------------------------------------


def purge_old_links() -> None:
    """Delete links that can no longer be used and grants that have run out."""
    config = current_app.config
    now = utcnow()
    db.session.execute(
        delete(AccessLink).where(
            or_(
                (AccessLink.used_at.is_(None))
                & (AccessLink.created_at < now - timedelta(seconds=config["MY_DATA_LINK_MAX_AGE"])),
                AccessLink.used_at < now - timedelta(seconds=config["MY_DATA_SESSION_MAX_AGE"]),
            )
        )
    )


def new_link(purpose: links.Purpose, email: str, new_email: str | None = None) -> tuple[AccessLink, str]:
    """Store a link and return it with its signed token (the caller commits)."""
    link = AccessLink(purpose=purpose.row_purpose, email=email, new_email=new_email)
    db.session.add(link)
    return link, links.issue(purpose, link)


def invalid_access_link():
    return render_template("my_data/invalid_link.html"), 400


# --- Access to everything under an address ------------------------------------------------------


def with_access(view):
    """Run ``view`` with ``g.my_data_link`` set, or send the browser back to ask for a link."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        link = current_grant()
        if link is None:
            session.pop(GRANT_SESSION_KEY, None)
            flash("Your access has ended or was never opened. Ask for a new link below.", "notice")
            return redirect(url_for("my_data.overview", _anchor="by-email"), code=303)
        g.my_data_link = link
        return view(*args, **kwargs)

    return wrapped


# --- This browser ----------------------------------------------------------------------------------


def page_number() -> int:
    return min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)


def render_overview(form: LinkForm, status: int = 200):
    visitor_id = g.get("visitor_id")
    visit_page = None
    if visitor_id:
        visits.flush(current_app)  # so the pages just seen are listed
        visit_page = holdings.visits_of(visitor_id, page=page_number(), per_page=VISITS_PER_PAGE)
    grant = current_grant()
    page = render_template(
        "my_data/overview.html",
        client=current_identity(),
        blocking=bool(g.get("blocking_signal")),
        visits=visit_page,
        reports=cookie_page.cookie_reports(),
        others=cookie_page.unregistered_cookie_names(),
        grant=grant,
        grant_email=mask_email(grant.email) if grant else None,
        form=form,
        decisions=consent.decisions_of_browser(visitor_id),
        button=ButtonForm(),
    )
    return page, status


@bp.get("/my-data")
def overview():
    """What the site stored about this browser, and the way to everything under an address."""
    return render_overview(LinkForm())


# --- Asking for a link -------------------------------------------------------------------------------


@bp.post("/my-data/link")
@limiter.limit(configured("RATELIMIT_MY_DATA_LINK"), methods=["POST"])
def request_link():
    form = LinkForm()
    if not form.validate_on_submit():
        return render_overview(form, 400)
    send_access_link(form.email.data)
    return redirect(url_for("my_data.link_sent"), code=303)


def send_access_link(email: str) -> None:
    """Mail a link to ``email``, whether or not anything is held under it.

    At most one link per address goes out every ``MY_DATA_LINK_INTERVAL``
    seconds, so the form cannot be used to flood someone's inbox; the page
    answers the same either way.
    """
    purge_old_links()
    interval = timedelta(seconds=current_app.config["MY_DATA_LINK_INTERVAL"])
    recent = db.session.execute(
        select(AccessLink.id).where(
            AccessLink.email == email,
            AccessLink.purpose == AccessLink.ACCESS,
            AccessLink.used_at.is_(None),
            AccessLink.created_at > utcnow() - interval,
        )
    ).first()
    if recent:
        db.session.commit()
        return
    link, token = new_link(links.MY_DATA, email)
    db.session.commit()
    text = render_template(
        "my_data/access_mail.txt",
        link=mail.external_url("my_data.open_link", token=token),
        minutes=current_app.config["MY_DATA_LINK_MAX_AGE"] // 60,
    )
    mail.send(mail.build_message(email, "Your data: your link", text))


@bp.get("/my-data/link/sent")
def link_sent():
    return render_template("my_data/link_sent.html", minutes=current_app.config["MY_DATA_LINK_MAX_AGE"] // 60)


@bp.get("/my-data/open/<token>")
def open_link(token):
    """Show what the link opens; only the button (a POST) uses it."""
    try:
        links.load(links.MY_DATA, token)
    except links.Refused:
        return invalid_access_link()
    return render_template("my_data/open.html", form=ButtonForm(), token=token)


@bp.post("/my-data/open/<token>")
def open_link_post(token):
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        opened = links.load(links.MY_DATA, token)
        key = links.use(opened)
    except links.Refused:
        return invalid_access_link()
    link = opened.row
    audit("visitor", "my-data.opened", link=link.id)
    prove_browser_submissions(link.email, current_identity().visitor_id)
    db.session.commit()
    session[GRANT_SESSION_KEY] = {"link": link.id, "key": key}
    return redirect(url_for("my_data.everything"), code=303)


# --- Everything under the address -------------------------------------------------------------------


def render_everything(status=200, **forms):
    link = g.my_data_link
    held = holdings.everything_under(link.email)
    preference = held.preference
    forms.setdefault("details_form", DetailsForm(formdata=None))
    forms.setdefault("email_form", EmailChangeForm(formdata=None))
    forms.setdefault(
        "preferences_form",
        PreferencesForm(
            formdata=None,
            marketing_off=bool(preference and preference.marketing_off),
            sharing_off=bool(preference and preference.sharing_off),
        ),
    )
    forms.setdefault("erase_form", EraseForm(formdata=None))
    return (
        render_template(
            "my_data/everything.html",
            held=held,
            ends=grant_ends(link),
            button=ButtonForm(),
            **forms,
        ),
        status,
    )


@bp.get("/my-data/email")
@with_access
def everything():
    return render_everything()


@bp.get("/my-data/email/visits/<visitor_id>")
@with_access
def visits_of_submission(visitor_id):
    """Every visit linked through one visitor id of a submission under the address."""
    owned = db.session.execute(
        select(Submission.id).where(
            Submission.email == g.my_data_link.email,
            Submission.erased_at.is_(None),
            Submission.visitor_id == visitor_id,
            Submission.proven_at.is_not(None),  # visits join an address only through proven submissions
        )
    ).first()
    if owned is None:
        abort(404)
    visits.flush(current_app)
    page = holdings.visits_of(visitor_id, page=page_number(), per_page=VISITS_PER_PAGE)
    return render_template("my_data/visits.html", visitor_id=visitor_id, visits=page)


@bp.post("/my-data/email/details")
@with_access
def correct_details():
    form = DetailsForm()
    if not form.validate_on_submit():
        return render_everything(400, details_form=form)
    held = holdings.everything_under(g.my_data_link.email)
    changed = holdings.correct(held, name=form.name.data or None, address=form.address.data or None)
    db.session.commit()
    count = len(changed["submissions"]) + len(changed["orders"])
    flash(f"Corrected on {count} record(s)." if count else "Nothing needed changing.", "success")
    return redirect(url_for("my_data.everything", _anchor="correct"), code=303)


@bp.post("/my-data/email/address")
@with_access
def change_email():
    form = EmailChangeForm()
    if not form.validate_on_submit():
        return render_everything(400, email_form=form)
    old, new = g.my_data_link.email, form.new_email.data
    if new == old:
        form.new_email.errors.append("That is the address you already use.")
        return render_everything(400, email_form=form)
    link, token = new_link(links.EMAIL_CHANGE, old, new)
    audit("visitor", "my-data.email-change-requested", link=link.id)
    db.session.commit()
    text = render_template(
        "my_data/email_change_mail.txt",
        link=mail.external_url("my_data.confirm_email_change", token=token),
        minutes=current_app.config["MY_DATA_LINK_MAX_AGE"] // 60,
    )
    mail.send(mail.build_message(new, "Confirm your new email address", text))
    flash(
        "We sent a link to the new address. Nothing changes until you open it there. Once the records "
        "move, this access ends: to see them, ask for a new link to the new address.",
        "success",
    )
    return redirect(url_for("my_data.everything", _anchor="correct"), code=303)


@bp.get("/my-data/email-change/<token>")
def confirm_email_change(token):
    try:
        link = links.load(links.EMAIL_CHANGE, token).row
    except links.Refused:
        return invalid_access_link()
    return render_template(
        "my_data/confirm_email.html",
        form=ButtonForm(),
        token=token,
        old=mask_email(link.email),
        new=mask_email(link.new_email),
        move=holdings.moving(link.email),
    )


@bp.post("/my-data/email-change/<token>")
def confirm_email_change_post(token):
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        opened = links.load(links.EMAIL_CHANGE, token)
        links.use(opened)
    except links.Refused:
        return invalid_access_link()
    link = opened.row
    moved = holdings.move_address(link.email, link.new_email)
    db.session.commit()
    flash(
        f"{moved['submissions']} record(s) now carry the new address. Access opened for the old address "
        "has ended; to see everything under the new one, ask for a link to it below.",
        "success",
    )
    if current_grant() is not None:  # this browser had proved the new address already
        return redirect(url_for("my_data.everything"), code=303)
    return redirect(url_for("my_data.overview", _anchor="by-email"), code=303)


@bp.post("/my-data/email/preferences")
@with_access
def preferences():
    form = PreferencesForm()
    if not form.validate_on_submit():
        abort(400)
    holdings.set_preferences(
        g.my_data_link.email,
        marketing_off=bool(form.marketing_off.data),
        sharing_off=bool(form.sharing_off.data),
    )
    db.session.commit()
    flash("Your preferences were saved. They apply to all your records from now on.", "success")
    return redirect(url_for("my_data.everything", _anchor="preferences"), code=303)


@bp.post("/my-data/email/unsubscribe")
@with_access
def unsubscribe():
    if not ButtonForm().validate_on_submit():
        abort(400)
    ended = holdings.unsubscribe(g.my_data_link.email)
    db.session.commit()
    flash("You are unsubscribed from the newsletter." if ended else "You were not subscribed.", "success")
    return redirect(url_for("my_data.everything", _anchor="preferences"), code=303)


@bp.get("/my-data/email/download")
@with_access
def download():
    document = holdings.export(holdings.everything_under(g.my_data_link.email))
    response = current_app.response_class(
        json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n",
        mimetype="application/json",
    )
    response.headers["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return response


@bp.post("/my-data/email/erase")
@with_access
def erase():
    form = EraseForm()
    if not form.validate_on_submit():
        return render_everything(400, erase_form=form)
    erased = holdings.erase(g.my_data_link.email)
    session.pop(GRANT_SESSION_KEY, None)
    if g.get("visitor_id") in erased.visitor_ids:
        # This browser's visits were erased with the rest; from here on it
        # gets a new visitor id that links to nothing erased.
        g.visitor_id = None
    flash(
        f"Erased: {plural(erased.submissions, 'submission')}, {plural(erased.visits, 'visit')} and "
        f"{plural(erased.subscriptions, 'newsletter subscription')}; {plural(erased.orders, 'order')} kept "
        "for accounting without your name, email or address.",
        "success",
    )
    return redirect(url_for("my_data.erased"), code=303)


@bp.get("/my-data/erased")
def erased():
    return render_template("my_data/erased.html")


@bp.post("/my-data/email/close")
@with_access
def close():
    if not ButtonForm().validate_on_submit():
        abort(400)
    db.session.delete(g.my_data_link)
    db.session.commit()
    session.pop(GRANT_SESSION_KEY, None)
    flash("Closed. Opening your data again takes a new link.", "success")
    return redirect(url_for("my_data.overview"), code=303)


# --- Forget this browser -------------------------------------------------------------------------
# The signed visitor cookie is the proof: whoever holds it is this browser to us, and what it links
# is all that is erased. No email is asked for, and nothing under an address is touched beyond the
# submissions this browser sent.

BROWSER_COOKIES = (VISITOR_COOKIE, consent.COOKIE, "cart")


def linked_counts(visitor_id: str) -> tuple[int, int]:
    """How many visits and (not yet erased) submissions carry ``visitor_id``."""
    visits.flush(current_app)
    visit_count = db.session.execute(db.select(db.func.count()).where(Visit.visitor_id == visitor_id)).scalar_one()
    submission_count = db.session.execute(
        db.select(db.func.count()).where(Submission.visitor_id == visitor_id, Submission.erased_at.is_(None))
    ).scalar_one()
    return visit_count, submission_count


@bp.post("/my-data/browser/forget")
def forget_browser():
    """The confirmation page: what forgetting this browser would erase. Nothing changes yet."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    visitor_id = read_visitor_id()
    counts = linked_counts(visitor_id) if visitor_id else None
    return render_template("my_data/forget.html", visitor_id=visitor_id, counts=counts, button=ButtonForm())


@bp.post("/my-data/browser/forget/confirm")
def forget_browser_confirm():
    """Erase everything linked to this browser's visitor id, then drop its cookies so the banner asks again."""
    if not ButtonForm().validate_on_submit():
        abort(400)
    visitor_id = read_visitor_id()
    # This request's own visit row is written after the view: it must carry no id either.
    g.visitor_id = None
    g.consent_acknowledged = False
    g.consent_withdrawn = True  # nothing is left to withdraw
    if visitor_id is None:
        return render_template("my_data/forget.html", visitor_id=None, counts=None, button=ButtonForm())
    erased = holdings.forget_browser(visitor_id)
    session.pop(consent.SESSION_LOG_KEY, None)
    flash(
        f"Erased: {plural(erased.visits, 'visit')}, {plural(erased.submissions, 'submission')} and "
        f"{plural(erased.decisions, 'consent-log entry', 'consent-log entries')}; "
        f"{plural(erased.orders, 'order')} kept for accounting without name, email or address.",
        "success",
    )
    response = redirect(url_for("my_data.browser_forgotten"), code=303)
    for name in BROWSER_COOKIES:
        cookies.delete(response, name)
    g.cart = None
    return response


@bp.get("/my-data/browser/forgotten")
def browser_forgotten():
    return render_template("my_data/forgotten.html")


@bp.get("/my-data/browser.json")
def browser_download():
    """This browser's data as JSON: what its cookies link to, shown as the cookie-only page shows it."""
    visitor_id = g.get("visitor_id")
    visit_rows, submission_rows = [], []
    if visitor_id:
        visits.flush(current_app)
        visit_rows = db.session.execute(
            db.select(Visit).where(Visit.visitor_id == visitor_id).order_by(Visit.time, Visit.id)
        ).scalars()
        submission_rows = db.session.execute(
            db.select(Submission)
            .where(Submission.visitor_id == visitor_id, Submission.erased_at.is_(None))
            .order_by(Submission.created_at, Submission.id)
        ).scalars()
    document = {
        "exportedAt": utc_text(utcnow()),
        "policyVersion": POLICY_VERSION,
        "choice": {"choice": g.get("consent_choice"), "version": g.get("consent_version")},
        "visitorId": visitor_id,
        # Behind the cookie alone, as on the page: networks, not addresses; nothing typed in.
        "visits": [
            {
                "time": utc_text(v.time),
                "method": v.method,
                "path": v.path,
                "status": v.status,
                "ipNetwork": shorten.short_ip(v.ip),
                "domain": shorten.short_domain(v.domain),
            }
            for v in visit_rows
        ],
        "submissions": [
            {
                "id": s.id,
                "kind": s.kind,
                "time": utc_text(s.created_at),
                "email": mask_email(s.email) if s.email else None,
                "choices": {"noMarketing": s.no_marketing, "noShare": s.no_share},
                "blockingSignal": s.blocking_signal,
                "consentWithdrawnAt": utc_text(s.withdrawn_at),
                "receiptId": s.receipt_id,
                "policyVersion": s.policy_version,
            }
            for s in submission_rows
        ],
        "consentLog": [
            {
                "time": utc_text(d.at),
                "choice": d.choice,
                "source": d.source,
                "policyVersion": d.policy_version,
                "visitorId": d.visitor_id,
            }
            for d in consent.decisions_of_browser(visitor_id)
        ],
        "cookies": [
            {"name": r.spec.name, "sent": r.present, "valid": r.valid, "details": dict(r.details)}
            for r in cookie_page.cookie_reports()
        ],
    }
    response = current_app.response_class(
        json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n", mimetype="application/json"
    )
    response.headers["Content-Disposition"] = 'attachment; filename="this-browser.json"'
    return response


def init_app(app):
    shorten.init_app(app)
    app.register_blueprint(bp)
