"""Newsletter signup with double opt-in, and one-click unsubscribe (RFC 8058).

A signup stores a submission and sends a confirmation link, a single-use
link (:mod:`webshop.links`) good for ``NEWSLETTER_CONFIRM_MAX_AGE``
seconds: it carries the subscription's current nonce, which confirming
clears and every new signup replaces. Nothing is mailed to the address
until that link is used, and using it is what proves the signup's address
(``Submission.proven_at``) for sharing and marketing. The page answers
every signup the same way, so it does not reveal whether an address is
already subscribed; one address has one subscription however often it
signs up.

Every newsletter mail carries ``List-Unsubscribe`` with the subscription's
stored random token in the URL (so the link outlives any key rotation) and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``. A POST to that URL
unsubscribes without cookies or CSRF token and answers 200; a GET only
shows a page with a button. It is the one CSRF exemption in the app. Links
mailed before tokens were stored carry the signed subscription id instead,
and are still accepted while the key that signed them is.
"""

from flask import Blueprint, current_app, flash, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from itsdangerous import BadData
from sqlalchemy.exc import IntegrityError
from wtforms import SelectChoice, SelectMultipleField
from wtforms.validators import InputRequired
from wtforms.widgets import CheckboxInput, ListWidget

from . import links, mail
from .db import db
from .fields import email_field
from .models import Submission, Subscription, audit, utcnow
from .responses import no_store
from .security import csrf
from .shorten import mask_email
from .signing import serializer
from .submissions import (
    FormKind,
    PersonalDataForm,
    commit_mail_and_redirect,
    form_post_limit,
    record_submission,
    register_form,
)

bp = Blueprint("newsletter", __name__)
bp.after_request(no_store)  # confirm, unsubscribe and preference pages name the subscriber


@bp.after_request
def no_referrer(response):
    """Their addresses carry the subscriber's token: a link followed from them must not pass it on."""
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


CONFIG = {
    "NEWSLETTER_CONFIRM_MAX_AGE": 2 * 24 * 3600,  # seconds a confirmation link can be used
}

TOPIC_NAMES = {
    "new-products": "New products",
    "offers": "Offers and discounts",
    "guides": "Buying guides",
    "site-updates": "Updates to this site",
}
TOPICS = [SelectChoice(value, label) for value, label in TOPIC_NAMES.items()]

KIND = register_form(
    FormKind(
        kind="newsletter",
        service="Newsletter",
        endpoint="newsletter.signup",
        clause="uses",
        primary_purpose="Sending you the newsletter topics you chose, once you confirm your address",
        pii_categories=("Email address", "Newsletter topics"),
        termination="Until you unsubscribe (every newsletter mail has a link) or erase your data",
        thanks_title="Check your inbox",
        thanks_text=(
            "We have sent a message to the address you gave. Open the link in it to confirm "
            "your subscription; until you do, we send you no newsletter. The link works once "
            "and expires after two days."
        ),
        public_fields=("topics",),
    )
)


def topics_field(required_message: str) -> SelectMultipleField:
    """The topic checkboxes, at least one ticked, as on the signup form and the preference centre."""
    return SelectMultipleField(
        "Topics you want to hear about",
        choices=TOPICS,
        validators=[InputRequired(required_message)],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


class SignupForm(PersonalDataForm):
    email = email_field()
    topics = topics_field("Choose at least one topic.")


# --- Mail to subscribers -------------------------------------------------------------


def unsubscribe_url(subscription: Subscription) -> str:
    return mail.external_url("newsletter.unsubscribe", token=subscription.unsubscribe_token)


def preferences_url(subscription: Subscription) -> str:
    return mail.external_url("newsletter.preferences", token=subscription.unsubscribe_token)


def list_headers(subscription: Subscription) -> dict[str, str]:
    """The RFC 2369 / RFC 8058 headers every newsletter mail carries."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(subscription)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def subscriber_message(subscription: Subscription, subject: str, text: str):
    """A newsletter or notice mail to one subscriber, with its unsubscribe link."""
    footer = (
        f"\n\n--\nYou receive this because you subscribed to the {current_app.config['STORE_NAME']} "
        f"newsletter.\nChange your topics or pause all mail: {preferences_url(subscription)}\n"
        f"Unsubscribe with one click: {unsubscribe_url(subscription)}\n"
    )
    return mail.build_message(subscription.email, subject, text + footer, headers=list_headers(subscription))


def send_to_subscriber(subscription: Subscription, subject: str, text: str) -> None:
    """Send a newsletter or site-update notice to one subscriber.

    Whether the subscriber may receive it (confirmed, not opted out of
    marketing) is the caller's decision.
    """
    mail.send(subscriber_message(subscription, subject, text))


# --- Signup ---------------------------------------------------------------------------


def find_subscription(email: str) -> Subscription | None:
    return db.session.execute(db.select(Subscription).where(Subscription.email == email)).scalar_one_or_none()


def request_subscription(email: str, submission: Submission) -> Subscription:
    """The address's one subscription, waiting for the signup's confirmation link.

    A confirmed subscription stays confirmed (a signup by someone else must
    not end it) and keeps the signup that was confirmed: its topics and
    the choices that govern mail to it change only when the new link is
    used. Until then the new signup is pending, like any unproven one.
    """
    subscription = find_subscription(email)
    if subscription is None:
        try:
            with db.session.begin_nested():
                subscription = Subscription(email=email, status=Subscription.PENDING, topics=[])
                db.session.add(subscription)
        except IntegrityError:  # the same address signed up at the same moment
            subscription = find_subscription(email)
    if subscription.status != Subscription.CONFIRMED:
        subscription.status = Subscription.PENDING
        subscription.submission = submission
        subscription.topics = list(submission.fields["topics"])
    return subscription


def signup_message(subscription: Subscription, submission: Submission, token: str):
    link = mail.external_url("newsletter.confirm", token=token)
    receipt = mail.external_url("receipts.show", receipt_id=submission.receipt_id)
    text = render_template(
        "newsletter/confirm_mail.txt",
        subscription=subscription,
        topics=[TOPIC_NAMES[t] for t in submission.fields["topics"]],
        link=link,
        receipt_url=receipt,
        unsubscribe=unsubscribe_url(subscription),
        # An address already confirmed has its preference centre; a new one has nothing to set yet.
        preferences=preferences_url(subscription) if subscription.status == Subscription.CONFIRMED else None,
    )
    subject = (
        "Confirm your newsletter topics"
        if subscription.status == Subscription.CONFIRMED
        else "Please confirm your newsletter subscription"
    )
    return mail.build_message(subscription.email, subject, text, headers=list_headers(subscription))


@bp.route("/newsletter", methods=["GET", "POST"])
@form_post_limit
def signup():
    form = SignupForm()
    if form.validate_on_submit():
        submission = record_submission(
            "newsletter", form, email=form.email.data, name=None, fields={"topics": form.topics.data}
        )
        subscription = request_subscription(form.email.data, submission)
        token = links.issue(links.NEWSLETTER_CONFIRM, subscription, submission=submission.id)
        return commit_mail_and_redirect(submission, mails=lambda: [signup_message(subscription, submission, token)])
    return render_template("newsletter/signup.html", form=form, kind=KIND)


# --- Confirmation ---------------------------------------------------------------------------


def load_confirmation(token: str) -> tuple[links.Link, Submission]:
    """The confirmation link ``token`` stands for and the signup it confirms; raises :class:`links.Refused`."""
    link = links.load(links.NEWSLETTER_CONFIRM, token)
    submission = db.session.get(Submission, link.payload.get("submission"))
    if submission is None:
        raise links.Refused(links.GONE)
    return link, submission


def invalid_newsletter_link():
    """The page for a confirmation or unsubscribe link that is not (or no longer) good."""
    return render_template("newsletter/invalid_link.html"), 400


@bp.get("/newsletter/confirm/<token>")
def confirm(token):
    """Show what the link confirms; only the button (a POST) changes anything."""
    try:
        link, submission = load_confirmation(token)
    except links.Refused:
        return invalid_newsletter_link()
    topics = [TOPIC_NAMES[t] for t in submission.fields["topics"]]
    return render_template(
        "newsletter/confirm.html",
        email=mask_email(link.row.email),
        topics=topics,
        token=token,
        submission=submission,
    )


@bp.post("/newsletter/confirm/<token>")
def confirm_post(token):
    now = utcnow()
    try:
        link, submission = load_confirmation(token)
        links.use(
            link,
            status=Subscription.CONFIRMED,
            topics=list(submission.fields["topics"]),
            submission_id=submission.id,
            confirmed_at=now,
            # The address the visit recording stores for this request: none under a blocking signal.
            confirmed_ip=g.get("client_ip"),
            paused_at=None,
            unsubscribed_at=None,
        )
    except links.Refused:
        return invalid_newsletter_link()
    subscription = link.row
    # Following the link mailed for this signup proves its address, for this
    # signup alone: it may now be used as its own boxes allow.
    db.session.execute(
        db.update(Submission)
        .where(Submission.id == submission.id, Submission.proven_at.is_(None))
        .values(proven_at=now)
    )
    db.session.commit()
    db.session.refresh(subscription)
    topics = [TOPIC_NAMES[t] for t in subscription.topics]
    send_to_subscriber(
        subscription,
        "Welcome to the newsletter",
        render_template(
            "newsletter/welcome_mail.txt",
            topics=topics,
            receipt_url=mail.external_url("receipts.show", receipt_id=submission.receipt_id),
        ),
    )
    return render_template(
        "newsletter/confirmed.html",
        topics=topics,
        submission=submission,
        preferences=url_for("newsletter.preferences", token=subscription.unsubscribe_token),
    )


# --- Unsubscribing -------------------------------------------------------------------------


def load_unsubscribe(token: str) -> Subscription | None:
    """The subscription an unsubscribe link belongs to, or None if there is none (any more)."""
    if len(token) <= 64:
        found = db.session.execute(
            db.select(Subscription).where(Subscription.unsubscribe_token == token)
        ).scalar_one_or_none()
        if found is not None:
            return found
    try:
        subscription_id = serializer("unsubscribe").loads(token)  # a link mailed before tokens were stored
    except BadData:
        return None
    if not isinstance(subscription_id, int) or isinstance(subscription_id, bool):
        return None
    return db.session.get(Subscription, subscription_id)


@bp.get("/newsletter/unsubscribe/<token>")
def unsubscribe(token):
    """A page with a button; opening the link changes nothing."""
    subscription = load_unsubscribe(token)
    if subscription is None:
        return invalid_newsletter_link()
    return render_template(
        "newsletter/unsubscribe.html",
        email=mask_email(subscription.email),
        subscription=subscription,
        done=False,
    )


@bp.post("/newsletter/unsubscribe/<token>")
@csrf.exempt
def unsubscribe_post(token):
    """RFC 8058 one-click unsubscribe: no cookies, no CSRF token, 200 and no redirect."""
    subscription = load_unsubscribe(token)
    if subscription is None:
        return invalid_newsletter_link()
    end_subscription(subscription)
    db.session.commit()
    return render_template(
        "newsletter/unsubscribe.html",
        email=mask_email(subscription.email),
        subscription=subscription,
        done=True,
    )


def end_subscription(subscription: Subscription) -> bool:
    """End ``subscription`` and void its pending confirmation link; False if it had ended already.

    The caller commits. Both ways out use it: the link in every newsletter
    mail, and the button on "your data".
    """
    links.revoke(links.NEWSLETTER_CONFIRM, subscription)
    if subscription.status == Subscription.UNSUBSCRIBED:
        return False
    subscription.status = Subscription.UNSUBSCRIBED
    subscription.unsubscribed_at = utcnow()
    return True


# --- The preference centre ---------------------------------------------------------------


class TopicsForm(FlaskForm):
    topics = topics_field("Choose at least one topic. To stop every mail, unsubscribe below.")


class ActionForm(FlaskForm):
    """Only the CSRF token: pause, resume, unsubscribe."""


def load_preferences(token: str) -> Subscription | None:
    """The subscription whose stored token is ``token``; signed links of old mails do not open it."""
    if len(token) > 64:
        return None
    return db.session.execute(
        db.select(Subscription).where(Subscription.unsubscribe_token == token)
    ).scalar_one_or_none()


def unknown_preferences():
    return render_template("newsletter/unknown_preferences.html"), 404


def preferences_page(subscription: Subscription, token: str, topics_form=None, status=200):
    if topics_form is None:
        topics_form = TopicsForm(formdata=None, topics=list(subscription.topics))
    return (
        render_template(
            "newsletter/preferences.html",
            subscription=subscription,
            email=mask_email(subscription.email),
            token=token,
            topics_form=topics_form,
            action_form=ActionForm(),
            topic_names=TOPIC_NAMES,
        ),
        status,
    )


@bp.get("/newsletter/preferences/<token>")
def preferences(token):
    """The preference centre the link in every mail to a subscriber opens."""
    subscription = load_preferences(token)
    if subscription is None:
        return unknown_preferences()
    return preferences_page(subscription, token)


def changeable(token: str):
    """The subscription behind ``token`` if it may be changed, else the response to give."""
    subscription = load_preferences(token)
    if subscription is None:
        return None, unknown_preferences()
    if subscription.status != Subscription.CONFIRMED:
        return None, preferences_page(subscription, token, status=409)
    if not ActionForm().validate_on_submit():
        flash("The form had expired; nothing was changed. Please try again.", "error")
        return None, preferences_page(subscription, token, status=400)
    return subscription, None


def back_to(token: str, message: str):
    flash(message, "success")
    return redirect(url_for("newsletter.preferences", token=token), code=303)


@bp.post("/newsletter/preferences/<token>/topics")
def change_topics(token):
    subscription, refused = changeable(token)
    if refused:
        return refused
    form = TopicsForm()
    if not form.validate():
        return preferences_page(subscription, token, topics_form=form, status=400)
    chosen = [value for value in TOPIC_NAMES if value in form.topics.data]
    if chosen != list(subscription.topics):
        audit("visitor", "newsletter.topics-changed", subscription=subscription.id, topics=chosen)
        subscription.topics = chosen
        db.session.commit()
    return back_to(token, "Your topics are saved.")


@bp.post("/newsletter/preferences/<token>/pause")
def pause(token):
    return set_paused(token, True, "All mail is paused until you resume it.")


@bp.post("/newsletter/preferences/<token>/resume")
def resume(token):
    return set_paused(token, False, "Mail is on again, for the topics you chose.")


def set_paused(token: str, paused: bool, message: str):
    """Pause or resume all mail to the subscription; pressing the same button twice changes nothing."""
    subscription, refused = changeable(token)
    if refused:
        return refused
    if (subscription.paused_at is not None) != paused:
        subscription.paused_at = utcnow() if paused else None
        audit("visitor", "newsletter.paused" if paused else "newsletter.resumed", subscription=subscription.id)
        db.session.commit()
    return back_to(token, message)


@bp.post("/newsletter/preferences/<token>/unsubscribe")
def unsubscribe_everything(token):
    subscription, refused = changeable(token)
    if refused:
        return refused
    if end_subscription(subscription):
        audit("visitor", "newsletter.unsubscribed", subscription=subscription.id)
    db.session.commit()
    return back_to(token, "You are unsubscribed from everything.")


def init_app(app):
    app.register_blueprint(bp)
