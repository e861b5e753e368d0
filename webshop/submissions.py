"""The one mechanism every personal-information form uses.

A form inherits :class:`PersonalDataForm` (which carries the two opt-out
boxes, unticked by default) and builds its fields with the helpers here
(:func:`text_field`, :func:`email_field`; choices are allow-listed by the
WTForms choice fields). Each form declares itself once with a
:class:`FormKind`: what the submission is for, which personal data it
holds, which policy clause its consent line points to, and what its
confirmation page says.

A view then does three things: validate, :func:`record_submission`, and
:func:`complete`. Recording stores what was entered, the choices made on
this submission alone, and the context of the request that carried it: IP,
domain, visitor id, whether a blocking signal was present (which forces
"don't share"), the policy version shown and the time, under a fresh,
random consent-receipt id. Completing commits, mails the consent receipt
where an address was given, and sends the browser to the confirmation
page, which links to the receipt.
"""

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import EmailMessage

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from . import mail
from .db import db
from .limits import configured, limiter
from .models import Submission, new_receipt_id
from .privacy.policy import POLICY_VERSION
from .proof import session_proof
from .responses import no_store
from .visits.identity import current_identity

NO_MARKETING_LABEL = "Don't use this for marketing"
NO_SHARE_LABEL = "Don't share this with other organisations"

bp = Blueprint("submissions", __name__)
bp.after_request(no_store)  # a confirmation page links to its receipt
log = logging.getLogger(__name__)

CONFIG = {
    # Posts of every personal-information form but chat, counted together per client.
    "RATELIMIT_FORMS": "10 per minute;100 per hour",
}
# The limit every form's view carries, below its route: one count for all of them.
form_post_limit = limiter.shared_limit(configured("RATELIMIT_FORMS"), "forms", methods=["POST"])


class PersonalDataForm(FlaskForm):
    no_marketing = BooleanField(NO_MARKETING_LABEL, default=False)
    no_share = BooleanField(NO_SHARE_LABEL, default=False)


# --- What each form is -------------------------------------------------------


@dataclass(frozen=True)
class FormKind:
    """A personal-information form, as its receipts and confirmation describe it."""

    kind: str  # Submission.kind
    service: str  # its name on receipts, e.g. "Newsletter"
    endpoint: str  # the form's own page
    clause: str  # the policy clause its consent line links to
    primary_purpose: str
    pii_categories: tuple[str, ...]
    termination: str
    thanks_title: str
    thanks_text: str
    public_fields: tuple[str, ...] = ()  # allow-listed answers, shown unmasked on receipts


FORM_KINDS: dict[str, FormKind] = {}


def register_form(kind: FormKind) -> FormKind:
    FORM_KINDS[kind.kind] = kind
    return kind


# --- Validation helpers ---------------------------------------------------------

# Control characters are refused: they have no place in what people type
# here, some (NUL) cannot be stored in PostgreSQL text at all, and any line
# break (including the Unicode ones) would split a mail header.
SINGLE_LINE_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MULTILINE_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


# Invisible formatting characters (Unicode category Cf: bidi controls such as
# U+202E, zero-width spaces and joiners, U+FEFF, and the tag characters
# U+E0000-U+E007F) are refused: they make text read differently from what it
# is, so that one name can pass for another or a message can hide its words.
INVISIBLE_MESSAGE = (
    "Remove the invisible formatting characters (such as direction marks, zero-width spaces "
    "or tag characters) from this text."
)


def invisible_characters(text: str) -> bool:
    """Whether ``text`` holds a character of Unicode category Cf or the tag block."""
    return any(unicodedata.category(ch) == "Cf" or 0xE0000 <= ord(ch) <= 0xE007F for ch in text)


def strip(value):
    return value.strip() if isinstance(value, str) else value


def normalize_newlines(value):
    return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


class PlainText:
    """Refuse control characters (line breaks only where ``multiline``)."""

    def __init__(self, multiline: bool = False):
        self.pattern = MULTILINE_FORBIDDEN if multiline else SINGLE_LINE_FORBIDDEN
        self.message = (
            "Remove the special control characters from this text."
            if multiline
            else "Keep this on one line, without special control characters."
        )

    def __call__(self, form, field):
        if field.data and self.pattern.search(field.data):
            raise ValidationError(self.message)
        if field.data and invisible_characters(field.data):
            raise ValidationError(INVISIBLE_MESSAGE)


# Words a display name may not be, or hold, because they would pass for the
# shop speaking. Compared after NFKC and case folding, so that "ＳＴＡＦＦ"
# (fullwidth) and "Staff" are "staff".
RESERVED_NAME_WORDS = frozenset({"staff", "admin", "administrator", "moderator", "mod", "official", "support"})
RESERVED_NAME_MESSAGE = "This name is kept for the shop itself; choose another display name."


def name_words(text: str) -> list[str]:
    """The words of ``text`` after NFKC and case folding, punctuation and spaces left out."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return re.findall(r"[^\W_]+", folded)


def reserved_name(name: str) -> bool:
    """Whether ``name`` reads as the shop, its staff or its moderators."""
    words = name_words(name)
    squashed = "".join(words)  # "s.t.a.f.f" too
    if RESERVED_NAME_WORDS.intersection([*words, squashed]):
        return True
    store_words = name_words(current_app.config["STORE_NAME"])
    # The store's name, and its name without the last word ("Voltage & Vine").
    store_names = {"".join(store_words), "".join(store_words[:-1])} - {""}
    return any(store in squashed for store in store_names)


class NotReservedName:
    """Refuse display names that imitate the shop or its staff (who never post as a visitor)."""

    def __call__(self, form, field):
        if field.data and reserved_name(field.data):
            raise ValidationError(RESERVED_NAME_MESSAGE)


def text_field(
    label: str,
    *,
    max_length: int,
    min_length: int = 0,
    required: str | None = None,
    multiline: bool = False,
    description: str = "",
    length_message: str | None = None,
    validators: Iterable = (),
):
    """A text input, stripped, without control or invisible characters, within its lengths.

    ``required`` is the message shown when it is left empty; without it the
    field is optional. ``validators`` are checked after those.
    """
    if min_length:
        message = length_message or f"Use between {min_length} and {max_length} characters."
        length = Length(min=min_length, max=max_length, message=message)
    else:
        length = Length(max=max_length, message=length_message or f"Use at most {max_length} characters.")
    # DataRequired too: the input is stripped, so spaces alone leave nothing.
    presence = [InputRequired(required), DataRequired(required)] if required else [Optional()]
    field_class = TextAreaField if multiline else StringField
    filters = [strip, normalize_newlines] if multiline else [strip]
    return field_class(
        label,
        validators=[*presence, length, PlainText(multiline), *validators],
        filters=filters,
        description=description,
        render_kw={"maxlength": max_length},
    )


def normalized_email(value: str) -> str:
    """The address as email-validator normalises it; syntax only, no network.

    Addresses must be plain ASCII on the left of the ``@`` so that any mail
    server can deliver to them; an international domain is kept in its
    ASCII (IDNA) form.
    """
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise ValidationError(str(error)) from error
    # Stored in lower case, so that Jane@example.org and jane@example.org are
    # one person everywhere: "your data", preferences, exports and erasure.
    address = (result.ascii_email or result.normalized).lower()
    if not mail.carries_address(address):
        # Valid syntax, but a mail reader would decode it into something else
        # (an RFC 2047 encoded word such as "=?utf-8?q?=0d=0a?=").
        raise ValidationError("This address cannot be used for mail; check it for \"=?\" and remove it.")
    return address


class EmailAddress:
    """Check the address with email-validator and keep its normalised form."""

    def __call__(self, form, field):
        if field.data:
            field.data = normalized_email(field.data)


def email_field(label: str = "Email", *, required: bool = True, description: str = ""):
    message = "Enter your email address."
    presence = [InputRequired(message), DataRequired(message)] if required else [Optional()]
    return StringField(
        label,
        validators=[*presence, Length(max=254, message="That address is too long."), EmailAddress()],
        filters=[strip],
        description=description,
        render_kw={"maxlength": 254, "autocomplete": "email", "type": "email"},
    )


# --- Recording and completing -------------------------------------------------------


def record_submission(
    kind: str,
    form: PersonalDataForm,
    *,
    email: str | None,
    name: str | None,
    fields: dict,
) -> Submission:
    """Add a submission for ``form`` to the session (see :func:`complete`)."""
    client = current_identity()
    blocking = bool(g.get("blocking_signal"))
    submission = Submission(
        receipt_id=new_receipt_id(),
        kind=kind,
        email=email or None,
        name=name or None,
        fields=fields,
        no_marketing=bool(form.no_marketing.data),
        no_share=bool(form.no_share.data) or blocking,
        blocking_signal=blocking,
        ip=client.ip,
        domain=client.domain,
        domain_confirmed=client.domain_confirmed,
        visitor_id=client.visitor_id,
        policy_version=POLICY_VERSION,
        proven_at=session_proof(email or None),
    )
    db.session.add(submission)
    return submission


MAIL_FAILED_MESSAGE = (
    "Your submission is stored, but the mail about it could not be sent just now. "
    "Your consent receipt is linked below."
)


def commit_and_mail(
    submission: Submission, mails: Callable[[], Iterable[EmailMessage]] | None = None
) -> bool:
    """Commit the submission, then send its mail; return whether all of it went out.

    ``mails`` builds the messages once the rows have their ids; by default
    it is the consent receipt, sent when an address was given. The
    submission is committed first and stays stored whatever happens to the
    mail: a message that cannot be built or sent is logged (without its
    contents) and reported by the return value, never raised.
    """
    from .privacy.receipts import receipt_message

    db.session.commit()
    try:
        if mails is None:
            messages = [receipt_message(submission)] if submission.email else []
        else:
            messages = list(mails())
    except ValueError as error:  # mail.MailBuildError, or an Address the text cannot make
        log.error("mail for a %s submission could not be built: %s", submission.kind, type(error).__name__)
        return False
    delivered = True
    for message in messages:
        try:
            delivered = mail.send(message) and delivered
        except OSError as error:  # the outbox itself could not be written
            log.error("mail for a %s submission could not be kept: %s", submission.kind, type(error).__name__)
            delivered = False
    return delivered


def complete(
    submission: Submission,
    *,
    mails: Callable[[], Iterable[EmailMessage]] | None = None,
    next_url: str | None = None,
):
    """Commit, mail, and redirect to the confirmation page (or ``next_url``).

    When the mail failed, the page says so.
    """
    if not commit_and_mail(submission, mails):
        flash(MAIL_FAILED_MESSAGE, "error")
    return redirect(next_url or url_for("submissions.thanks", receipt_id=submission.receipt_id), code=303)


@bp.get("/thanks/<uuid:receipt_id>")
def thanks(receipt_id):
    """The confirmation page of a submission, linking to its consent receipt."""
    submission = db.first_or_404(
        db.select(Submission).where(Submission.receipt_id == str(receipt_id), Submission.erased_at.is_(None))
    )
    kind = FORM_KINDS.get(submission.kind)
    if kind is None:
        abort(404)
    return render_template("submissions/thanks.html", submission=submission, kind=kind)


def init_app(app):
    app.register_blueprint(bp)

    @app.context_processor
    def form_kinds_in_templates():
        return {"form_kinds": FORM_KINDS}
