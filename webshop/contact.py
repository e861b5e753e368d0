"""Contact ("send us an email"): the message is stored and mailed to the store."""

from email.headerregistry import Address

from flask import Blueprint, render_template

from . import mail
from .fields import email_field, text_field
from .submissions import (
    FormKind,
    PersonalDataForm,
    commit_mail_and_redirect,
    form_post_limit,
    receipt_message,
    record_submission,
    register_form,
)

bp = Blueprint("contact", __name__)

KIND = register_form(
    FormKind(
        kind="contact",
        service="Contact form",
        endpoint="contact.contact",
        clause="contact",
        primary_purpose="Reading and answering your message",
        pii_categories=("Name", "Email address", "Your message"),
        termination="Until you erase it on the your-data page",
        thanks_title="Message sent",
        thanks_text=("Your message reached us. We answer at the address you gave, usually within two working days."),
    )
)


class ContactForm(PersonalDataForm):
    name = text_field("Your name", max_length=120, required="Enter your name.")
    email = email_field("Your email (we reply here)")
    subject = text_field("Subject", max_length=150, required="Enter a subject.")
    message = text_field("Message", max_length=5000, min_length=2, required="Write your message.", multiline=True)


def store_copy(submission, form: ContactForm):
    """The message as mailed to the store, answerable with the mail client's Reply."""
    text = render_template("contact/store_mail.txt", submission=submission, form=form)
    return mail.build_message(
        mail.store_address(),
        f"Contact form: {form.subject.data}",
        text,
        reply_to=Address(display_name=form.name.data, addr_spec=form.email.data),
    )


@bp.route("/contact", methods=["GET", "POST"])
@form_post_limit
def contact():
    form = ContactForm()
    if form.validate_on_submit():
        submission = record_submission(
            "contact",
            form,
            email=form.email.data,
            name=form.name.data,
            fields={"name": form.name.data, "subject": form.subject.data, "message": form.message.data},
        )
        return commit_mail_and_redirect(
            submission, mails=lambda: [store_copy(submission, form), receipt_message(submission)]
        )
    return render_template("contact/form.html", form=form, kind=KIND)


def init_app(app):
    app.register_blueprint(bp)
