"""The chat room: messages appear for everyone without reloading.

The page works by reload alone; ``static/chat.js`` improves it by sending
messages in the background and polling :func:`messages` for new ones.
Messages travel as JSON and are put on the page as text, never as HTML.
Each answer to a message sent in the background carries the single-use
token the next message needs (``submission_token``), as a reloaded page
would; a message sent again is answered with the one already stored.
"""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from markupsafe import Markup

from .db import db
from .fields import NotReservedName, email_field, text_field
from .limits import configured, limiter
from .models import ChatMessage
from .submissions import (
    ALREADY_RECEIVED_MESSAGE,
    MAIL_FAILED_MESSAGE,
    FormKind,
    PersonalDataForm,
    already_received,
    commit_and_mail,
    issue_submission_token,
    record_submission,
    register_form,
)

bp = Blueprint("chat", __name__)

HISTORY = 50  # messages shown when the page opens
# Most messages one poll returns: at most 500 characters each, so a full
# batch stays near 50 KB even of 4-byte emoji. The answer says where the rest is.
BATCH = 20
MAX_ID = 2**31 - 1

CONFIG = {
    "RATELIMIT_CHAT": "20 per minute;300 per hour",  # messages sent per client
    "RATELIMIT_CHAT_POLL": "120 per minute",  # the page polls every 2 s; a few tabs fit
}


def message_resent(submission):
    """A message sent again: shown once; the background sender gets it back with a token for the next one."""
    if not wants_json():
        return already_received(url_for("chat.chat", _anchor="chat-form"))
    message = db.session.execute(db.select(ChatMessage).where(ChatMessage.submission == submission)).scalar_one()
    return utf8_json(
        {
            "message": as_json(message),
            "receipt_url": url_for("receipts.show", receipt_id=submission.receipt_id),
            "already_received": ALREADY_RECEIVED_MESSAGE,
            "submission_token": issue_submission_token(),
        }
    )


KIND = register_form(
    FormKind(
        kind="chat",
        service="Chat room",
        endpoint="chat.chat",
        clause="where-submitted",
        primary_purpose="Showing your message and display name to everyone in the chat room",
        pii_categories=("Display name", "Your message", "Email address (if given, never shown)"),
        termination="Until our staff remove it, or you erase it on the your-data page",
        thanks_title="Message sent",
        thanks_text="Everyone in the chat room can now read your message.",
        resent=message_resent,
    )
)


class ChatForm(PersonalDataForm):
    display_name = text_field(
        "Display name", max_length=40, required="Choose a display name.", validators=[NotReservedName()]
    )
    message = text_field("Message", max_length=500, required="Write a message.")
    email = email_field("Email (optional, for your receipt; never shown)", required=False)


def as_json(message: ChatMessage) -> dict:
    return {
        "id": message.id,
        "name": message.display_name,
        "body": message.body,
        "time": message.created_at.isoformat() + "Z",
    }


def wants_json() -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def visible():
    return db.select(ChatMessage).where(ChatMessage.hidden.is_(False))


@bp.route("/chat", methods=["GET", "POST"])
@limiter.limit(configured("RATELIMIT_CHAT"), methods=["POST"])
def chat():
    form = ChatForm()
    if form.validate_on_submit():
        submission = record_submission(
            "chat",
            form,
            email=form.email.data,
            name=form.display_name.data,
            fields={"display_name": form.display_name.data, "message": form.message.data},
        )
        message = ChatMessage(submission=submission, display_name=form.display_name.data, body=form.message.data)
        db.session.add(message)
        mailed = commit_and_mail(submission)
        receipt_url = url_for("receipts.show", receipt_id=submission.receipt_id)
        if wants_json():
            reply = {"message": as_json(message), "receipt_url": receipt_url, "mail_sent": mailed}
            return utf8_json({**reply, "submission_token": issue_submission_token()}, 201)
        flash(Markup('Message sent. <a href="{}">View its consent receipt</a>.').format(receipt_url), "success")
        if not mailed:
            flash(MAIL_FAILED_MESSAGE, "error")
        return redirect(url_for("chat.chat", _anchor="chat-form"), code=303)
    if form.is_submitted() and wants_json():
        errors = {name: errors[0] for name, errors in form.errors.items()}
        return utf8_json({"errors": errors, "submission_token": form.submission_token.data}, 400)
    recent = db.session.execute(visible().order_by(ChatMessage.id.desc()).limit(HISTORY)).scalars().all()
    recent.reverse()
    return render_template("chat/room.html", form=form, messages=recent, kind=KIND)


def utf8_json(payload: dict, status: int = 200):
    """A JSON response with text as UTF-8 rather than ``\\uXXXX`` escapes (an emoji is 4 bytes, not 12)."""
    body = current_app.json.dumps(payload, ensure_ascii=False)
    return current_app.response_class(body + "\n", status=status, mimetype="application/json")


@bp.get("/chat/messages")
@limiter.limit(configured("RATELIMIT_CHAT_POLL"), methods=["GET"])
def messages():
    """Visible messages after ``after`` (an id), oldest first, at most :data:`BATCH`, as JSON.

    ``more`` says whether further messages wait; ``next`` is the URL that
    fetches them (``after`` the last id returned).
    """
    after = min(max(request.args.get("after", 0, type=int), 0), MAX_ID)
    found = (
        db.session.execute(visible().where(ChatMessage.id > after).order_by(ChatMessage.id).limit(BATCH + 1))
        .scalars()
        .all()
    )
    page, more = found[:BATCH], len(found) > BATCH
    last = page[-1].id if page else after
    response = utf8_json(
        {
            "messages": [as_json(message) for message in page],
            "more": more,
            "next": url_for("chat.messages", after=last),
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app):
    app.register_blueprint(bp)
