"""Site-update notices to the notice audience, sent in batches; and the outbox reader.

The audience is :func:`webshop.rules.notice_audience`: confirmed
subscribers who chose the "site-updates" topic and have not paused mail,
whose signup allowed marketing and whose address has not turned marketing
off. Each mail goes through the outbox with the RFC 8058
unsubscribe headers. A delivery row is written (unique per notice and
subscription) before its mail is handed over, so continuing, resending or
two staff pressing the button at once never mails anyone twice.
"""

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import func, not_
from sqlalchemy.exc import IntegrityError
from wtforms import StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from .. import mail
from ..db import db
from ..fields import PlainText
from ..models import Notice, NoticeDelivery, Subscription, audit, utcnow
from ..newsletter import send_to_subscriber
from ..rules import notice_audience
from .auth import bp, staff_actor


class NoticeForm(FlaskForm):
    subject = StringField(
        "Subject", validators=[InputRequired("Give the notice a subject."), Length(max=150), PlainText()]
    )
    body = TextAreaField(
        "Text",
        validators=[InputRequired("Write the notice."), Length(max=20_000), PlainText(multiline=True)],
    )


class SendForm(FlaskForm):
    """Only the CSRF token."""


def waiting(notice: Notice):
    """The audience members this notice has not reached yet."""
    delivered = db.select(NoticeDelivery.subscription_id).where(NoticeDelivery.notice_id == notice.id)
    return notice_audience().where(not_(Subscription.id.in_(delivered)))


def progress(notice: Notice) -> dict:
    sent = db.session.execute(
        db.select(func.count()).select_from(NoticeDelivery).where(NoticeDelivery.notice_id == notice.id)
    ).scalar_one()
    remaining = db.session.execute(
        db.select(func.count()).select_from(waiting(notice).order_by(None).subquery())
    ).scalar_one()
    return {"sent": sent, "remaining": remaining, "total": sent + remaining}


def claim(notice: Notice, subscription: Subscription) -> bool:
    """Record the delivery; False when someone else already did (then it is not sent again)."""
    try:
        with db.session.begin_nested():
            db.session.add(NoticeDelivery(notice_id=notice.id, subscription_id=subscription.id, sent_at=utcnow()))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def send_batch(notice: Notice, size: int) -> int:
    """Send the notice to up to ``size`` audience members who have not had it; how many were sent."""
    batch = db.session.execute(waiting(notice).limit(size)).scalars().all()
    sent = []
    for subscription in batch:
        if claim(notice, subscription):
            send_to_subscriber(subscription, notice.subject, notice.body)
            sent.append(subscription.id)
    return len(sent)


def preview_text(body: str) -> str:
    footer = (
        f"\n\n--\nYou receive this because you subscribed to the {current_app.config['STORE_NAME']} "
        "newsletter.\nChange your topics or pause all mail: <a personal link for each subscriber>\n"
        "Unsubscribe with one click: <a personal link for each subscriber>\n"
    )
    return body + footer


@bp.route("/notices", methods=["GET", "POST"])
def notices():
    form = NoticeForm()
    preview = None
    if form.validate_on_submit():
        if request.form.get("action") == "save":
            notice = Notice(subject=form.subject.data, body=form.body.data, created_by=g.staff.name)
            db.session.add(notice)
            db.session.commit()
            return redirect(url_for("staff.notice", notice_id=notice.id), code=303)
        preview = preview_text(form.body.data)
    listed = db.session.execute(db.select(Notice).order_by(Notice.created_at.desc())).scalars().all()
    audience = db.session.execute(
        db.select(func.count()).select_from(notice_audience().order_by(None).subquery())
    ).scalar_one()
    return render_template(
        "staff/notices.html",
        form=form,
        preview=preview,
        notices=[(n, progress(n)) for n in listed],
        audience=audience,
    )


@bp.get("/notices/<int:notice_id>")
def notice(notice_id):
    found = db.get_or_404(Notice, notice_id)
    return render_template(
        "staff/notice.html",
        notice=found,
        preview=preview_text(found.body),
        progress=progress(found),
        batch_size=current_app.config["NOTICE_BATCH_SIZE"],
        form=SendForm(),
    )


@bp.post("/notices/<int:notice_id>/send")
def send_notice(notice_id):
    found = db.get_or_404(Notice, notice_id)
    if not SendForm().validate_on_submit():
        abort(400)
    count = send_batch(found, current_app.config["NOTICE_BATCH_SIZE"])
    audit(staff_actor(), "send_notice", notice_id=found.id, sent=count)
    db.session.commit()
    left = progress(found)["remaining"]
    flash(
        f"Sent to {count} subscribers; {left} still to go." if left else f"Sent to {count} subscribers; all done.",
        "success",
    )
    return redirect(url_for("staff.notice", notice_id=found.id), code=303)


# --- The outbox -----------------------------------------------------------------------------


@bp.get("/outbox")
def outbox():
    return render_template("staff/outbox.html", messages=mail.outbox_messages())


@bp.get("/outbox/<key>")
def outbox_message(key):
    found = next((m for m in mail.outbox_messages() if m.key == key), None)
    if found is None:
        abort(404)
    audit(staff_actor(), "view_outbox_message", key=key)
    db.session.commit()
    headers = [(name, str(value)) for name, value in found.message.items()]
    return render_template("staff/outbox_message.html", entry=found, headers=headers)
