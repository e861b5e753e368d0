"""The one mechanism every personal-information form uses.

A form inherits :class:`PersonalDataForm` (which carries the two opt-out
boxes, unticked by default) and builds its fields with the helpers of
:mod:`webshop.fields`. Each form declares itself once with a
:class:`FormKind`: what the submission is for, which personal data it
holds, which policy clause its consent line points to, and what its
confirmation page says.

A view then does three things: validate, :func:`record_submission`, and
:func:`commit_mail_and_redirect`. Each form carries a signed, single-use
token issued when its page is rendered (:class:`SubmissionTokenField`)
and good only in the browser session it was issued to;
the submission keeps the token's digest under a unique index, so a form
sent again (reload, a browser resending after a lost answer, two sends at
once) stores nothing more and is answered with the first submission's
confirmation (:func:`record_submission`). Recording stores what was entered, the
choices made on this submission alone, and the context of the request that
carried it: IP, domain, visitor id, whether a blocking signal was present
(which forces "don't share"), the policy version shown and the time, under
a fresh, random consent-receipt id, with its consent receipt frozen beside
it (:func:`build_receipt`). Then the submission is committed, the receipt
mailed where an address was given,
and the browser sent to the confirmation page, which links to the receipt.
A domain name the resolver finds only after the submission was stored is
filled in later (:mod:`webshop.submission_domains`).
"""

import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from itsdangerous import BadData
from sqlalchemy.exc import IntegrityError
from wtforms import BooleanField, HiddenField
from wtforms.validators import ValidationError

from . import mail
from .db import db, utc_text, utcnow
from .limits import configured, limiter
from .models import Recipient, Submission, new_receipt_id
from .policy_text import POLICY_VERSION
from .proof import session_proof
from .responses import no_store
from .shorten import mask_email, mask_text, short_domain, short_ip
from .signing import serializer
from .visits.identity import current_identity

NO_MARKETING_LABEL = "Don't use this for marketing"
NO_SHARE_LABEL = "Don't share this with other organisations"

bp = Blueprint("submissions", __name__)
bp.after_request(no_store)  # a confirmation page links to its receipt
log = logging.getLogger(__name__)

CONFIG = {
    # Posts of every personal-information form but chat, counted together per client.
    "RATELIMIT_FORMS": "10 per minute;100 per hour",
    # Seconds a form's single-use token is good for once its page was opened.
    "SUBMISSION_TOKEN_MAX_AGE": 24 * 3600,
}
# The limit every form's view carries, below its route: one count for all of them.
form_post_limit = limiter.shared_limit(configured("RATELIMIT_FORMS"), "forms", methods=["POST"])


TOKEN_REFUSED_MESSAGE = (
    "This form was opened too long ago, or did not come from this shop, so nothing was stored. "
    "What you entered is still here: check it and send it again."
)
ALREADY_RECEIVED_MESSAGE = "We had already received this form; it is stored once."


def issue_submission_token(csrf_secret: str | None = None) -> str:
    """A fresh single-use token for a form's page: a random nonce and the session it is for, signed and timed.

    ``csrf_secret`` is the CSRF secret of the browser session the token is
    for, by default this request's; a benchmark minting tokens for a browser
    it drives passes that browser's.
    """
    binding = session_binding(csrf_secret if csrf_secret is not None else this_session_csrf_secret())
    return serializer("submission").dumps([secrets.token_urlsafe(18), binding])


def this_session_csrf_secret() -> str:
    """This browser session's raw Flask-WTF CSRF secret, made now if it has none yet."""
    generate_csrf()  # cached for the request: every form already called it for its CSRF field
    return session[current_app.config["WTF_CSRF_FIELD_NAME"]]


def session_binding(csrf_secret: str) -> str:
    """What a token carries of the session it was issued to: a short SHA-256 of its CSRF secret.

    Whoever holds another browser's token, used or not, cannot send it with
    their own session: it stores nothing and shows them nothing of the first
    submission's answer (an order's page among them). The CSRF secret is
    what already ties the form's CSRF token to this browser, so the two
    tokens are good in the same sessions; the digest does not reveal it.
    """
    return hashlib.sha256(b"webshop.submission-session\x00" + csrf_secret.encode()).hexdigest()[:16]


def nonce_issued_here(payload) -> str | None:
    """The nonce of a token's signed ``payload`` if it was issued to this browser session, else None."""
    if not (isinstance(payload, list) and len(payload) == 2 and all(isinstance(part, str) for part in payload)):
        return None  # also a token issued before tokens named their session
    nonce, binding = payload
    return nonce if nonce and binding == session_binding(this_session_csrf_secret()) else None


def token_digest(nonce: str) -> str:
    """What a submission keeps of its token: the SHA-256 of its nonce, never the token."""
    return hashlib.sha256(nonce.encode()).hexdigest()


class SubmissionTokenField(HiddenField):
    """The single-use token of one filling-in of a form: issued with the page, checked when it comes back.

    A token that is missing, altered, signed with another key, issued to
    another browser session (:func:`session_binding`) or older than
    ``SUBMISSION_TOKEN_MAX_AGE`` is refused with a message on the form,
    everything typed kept, and replaced by a fresh one so the form can be
    sent again. A good token's nonce is ``nonce``; :func:`record_submission`
    makes sure it is used once.
    """

    nonce: str | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, default=issue_submission_token, **kwargs)

    def pre_validate(self, form):
        try:
            payload = serializer("submission").loads(
                self.raw_data[0] if self.raw_data else "", max_age=current_app.config["SUBMISSION_TOKEN_MAX_AGE"]
            )
        except BadData:
            payload = None
        nonce = nonce_issued_here(payload)
        if nonce is None:
            self.data = issue_submission_token()
            raise ValidationError(TOKEN_REFUSED_MESSAGE)
        self.nonce = nonce


class PersonalDataForm(FlaskForm):
    submission_token = SubmissionTokenField()
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
    # The answer to the form sent again once it is stored, given its first
    # submission; by default :func:`already_received` with its confirmation page.
    resent: Callable[[Submission], ResponseReturnValue] | None = None


FORM_KINDS: dict[str, FormKind] = {}


def register_form(kind: FormKind) -> FormKind:
    FORM_KINDS[kind.kind] = kind
    return kind


# --- The consent receipt ------------------------------------------------------------
#
# Every submission has one, as a page, JSON and a signed token
# (webshop.privacy.receipts) and by mail. The fields follow the Kantara
# Initiative Consent Receipt Specification v1.1 (version, jurisdiction,
# consentTimestamp, collectionMethod, consentReceiptID, language,
# piiPrincipalId, piiControllers, policyUrl, services with their purposes,
# sensitive, spiCat), extended with what this store promises besides: the
# policy version, the two opt-out choices made on that submission, the
# blocking signal, and the IP address and domain name recorded with it.
#
# The document is frozen: built once when the submission is recorded, kept
# as JSON text (Submission.receipt_document) and never rebuilt, so a later
# change of the store's name or address, or of who receives marketing
# lists, does not change what was agreed to. It never holds a full IP
# address (only its network, webshop.shorten), so minimisation never has to
# rewrite it. It names the person by what they gave (piiPrincipalId); the
# other values they entered are masked (``j***@example.com``), since a
# receipt opens for whoever has its link. Withdrawal and erasure change only
# its status (receipt_status), kept beside it; erasure removes the document.

KANTARA_VERSION = "KI-CR-v1.1.0"
NO_RECIPIENTS = (
    "No organisation is registered to receive marketing lists at the time of this consent; "
    "any organisation it is shared with later is named in the sharing ledger on the your-data page"
)
INTERNAL_PURPOSE = "Internal review of how the shop is used, and improving its content and layout"
MARKETING_PURPOSE = "Telling you about updates to the site and offers from the store"
SHARING_PURPOSE = "Passing your information to affiliated organisations and other companies for their marketing"
RECORDED_CATEGORIES = ("IP address", "Domain name", "Visitor id")
NO_PRINCIPAL = "None recorded: no email address was given and no visitor id was kept"
BLOCKED_PRINCIPAL = (
    "None recorded: no email address was given, and the browser sent a blocking signal, so no visitor id was kept"
)


def mask(name: str, value, kind: FormKind | None):
    """A value as shown on the public receipt."""
    if kind and name in kind.public_fields:
        return value
    if isinstance(value, str):
        return mask_email(value) if "@" in value and name.endswith("email") else mask_text(value)
    if isinstance(value, list):
        return [mask(name, item, kind) for item in value]
    return value


def principal_id(submission: Submission) -> str:
    """Whom the receipt is about: the address as given, else the browser's visitor id, else why neither."""
    if submission.email:
        return submission.email
    if submission.visitor_id:
        return submission.visitor_id
    return BLOCKED_PRINCIPAL if submission.blocking_signal else NO_PRINCIPAL


def recipient_names() -> str:
    """The organisations registered to receive marketing lists now, by name."""
    names = db.session.execute(db.select(Recipient.name).order_by(Recipient.name)).scalars().all()
    return ", ".join(names) or NO_RECIPIENTS


def build_receipt(submission: Submission) -> dict:
    """The receipt of ``submission`` as a Kantara v1.1 style dictionary, as things stand now."""
    config = current_app.config
    kind = FORM_KINDS.get(submission.kind)
    service = kind.service if kind else submission.kind
    # What the person agreed to: they did not tick "don't share" and no blocking
    # signal came with it. Whether anything is shared also depends on the
    # default-deny rules (webshop.rules); what was shared shows in the ledger.
    agreed_to_sharing = not (submission.no_share or submission.blocking_signal)
    consent_at = submission.created_at.replace(tzinfo=UTC)
    categories = list(kind.pii_categories if kind else ())
    values = (submission.ip, submission.domain, submission.visitor_id)
    recorded = [category for category, value in zip(RECORDED_CATEGORIES, values, strict=True) if value]

    def purpose(text, category, consent_type, primary, *, disclosed=False, opted_out=False):
        return {
            "purpose": text,
            "purposeCategory": [category],
            "consentType": consent_type,
            "piiCategory": categories + recorded,
            "primaryPurpose": primary,
            "termination": kind.termination if kind else "Until you erase it on the your-data page",
            "thirdPartyDisclosure": disclosed,
            "thirdPartyName": recipient_names() if disclosed else "",
            "optedOut": opted_out,
        }

    purposes = [
        purpose(kind.primary_purpose if kind else service, "Core Function", "EXPLICIT", True),
        purpose(INTERNAL_PURPOSE, "Improve Performance", "IMPLIED", False),
        purpose(MARKETING_PURPOSE, "Marketing", "IMPLIED", False, opted_out=submission.no_marketing),
        purpose(
            SHARING_PURPOSE,
            "Marketing - Third Party",
            "IMPLIED",
            False,
            disclosed=agreed_to_sharing,
            opted_out=not agreed_to_sharing,
        ),
    ]
    return {
        "version": KANTARA_VERSION,
        "jurisdiction": config["STORE_JURISDICTION"],
        "consentTimestamp": int(consent_at.timestamp()),
        "consentTime": consent_at.isoformat().replace("+00:00", "Z"),
        "collectionMethod": f"Web form: {service} ({url_for(kind.endpoint)})" if kind else "Web form",
        "consentReceiptID": submission.receipt_id,
        "language": "en",
        "piiPrincipalId": principal_id(submission),
        "piiControllers": [
            {
                "piiController": config["STORE_NAME"],
                "contact": "Privacy team",
                "address": config["STORE_ADDRESS"],
                "email": config["STORE_EMAIL"],
                "phone": config["STORE_PHONE"],
                "piiControllerUrl": mail.external_url("shop.home"),
                "onBehalf": False,
            }
        ],
        "policyUrl": mail.external_url("privacy.policy"),
        "policyVersion": submission.policy_version,
        "services": [{"service": service, "purposes": purposes}],
        "sensitive": False,
        "spiCat": [],
        "optOuts": {
            "noMarketing": submission.no_marketing,
            "noShare": submission.no_share,
            "blockingSignal": submission.blocking_signal,
        },
        "recorded": {
            "ip": short_ip(submission.ip),
            "domain": short_domain(submission.domain),
            "domainConfirmed": submission.domain_confirmed,
            "visitorId": mask_text(submission.visitor_id) if submission.visitor_id else None,
        },
        "fields": {name: mask(name, value, kind) for name, value in (submission.fields or {}).items()},
        "receiptUrl": mail.external_url("receipts.show", receipt_id=submission.receipt_id),
    }


def receipt_text(receipt: dict) -> str:
    """The receipt as compact JSON text: the bytes stored, served and signed."""
    return json.dumps(receipt, ensure_ascii=False, separators=(",", ":"))


def stored_receipt(submission: Submission) -> str | None:
    """The frozen receipt document of ``submission``; None once it is erased.

    A submission recorded before documents were stored gets its document on
    first read, once: the conditional update lets only the first reader's
    stand, and every reader returns what the row then holds.
    """
    if submission.erased_at is not None:
        return None  # erasure removes the document too; an erased row answers for none
    if submission.receipt_document is None:
        document = receipt_text(build_receipt(submission))
        db.session.execute(
            db.update(Submission)
            .where(Submission.id == submission.id, Submission.receipt_document.is_(None))
            .values(receipt_document=document)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        db.session.refresh(submission)
    return submission.receipt_document


def receipt_data(submission: Submission) -> dict | None:
    """The frozen receipt of ``submission`` as a dictionary; None once it is erased."""
    document = stored_receipt(submission)
    return json.loads(document) if document is not None else None


@dataclass(frozen=True)
class ReceiptStatus:
    """Where a receipt stands: ACTIVE, or REVOKED since consent was withdrawn or the data erased."""

    revoked_at: datetime | None

    @property
    def name(self) -> str:
        return "REVOKED" if self.revoked_at else "ACTIVE"

    @property
    def at(self) -> str | None:
        """The time of revocation as ``2026-12-02T10:00:00Z``."""
        return utc_text(self.revoked_at.replace(microsecond=0)) if self.revoked_at else None

    def header(self) -> str:
        """The ``Receipt-Status`` header: ``ACTIVE`` or ``REVOKED; at=2026-12-02T10:00:00Z``."""
        return f"{self.name}; at={self.at}" if self.revoked_at else self.name


def receipt_status(submission: Submission) -> ReceiptStatus:
    ends = [moment for moment in (submission.withdrawn_at, submission.erased_at) if moment]
    return ReceiptStatus(min(ends) if ends else None)


def receipt_message(submission: Submission):
    """The consent receipt as a mail to the address given with the submission."""
    receipt = receipt_data(submission)
    text = render_template("receipts/mail.txt", receipt=receipt, submission=submission)
    service = receipt["services"][0]["service"]
    return mail.build_message(submission.email, f"Your consent receipt: {service}", text)


# --- Recording and completing -------------------------------------------------------


def record_submission(
    kind: str,
    form: PersonalDataForm,
    *,
    email: str | None,
    name: str | None,
    fields: dict,
) -> Submission:
    """Add a submission for ``form`` to the session (see :func:`commit_mail_and_redirect`).

    The submission is flushed at once with its token's digest, which claims
    the token. A token used already stores nothing: the request ends here
    with the answer the first submission got (:func:`answer_resend`), also
    when another request carrying it wins the race on the unique index.
    """
    digest = token_digest(form.submission_token.nonce)
    answer_resend(digest)
    client = current_identity()
    blocking = bool(g.get("blocking_signal"))
    submission = Submission(
        receipt_id=new_receipt_id(),
        created_at=utcnow(),  # the receipt's time is the row's
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
        token_digest=digest,
    )
    # Frozen now, from this row: the IP address only as its network, never in full.
    submission.receipt_document = receipt_text(build_receipt(submission))
    db.session.add(submission)
    try:
        db.session.flush()  # of two sends at once, the second waits here for the first, then fails
    except IntegrityError:
        db.session.rollback()
        answer_resend(digest)
        raise  # not the token: something else was refused
    return submission


def already_received(url: str):
    """The answer to a form sent again: its first confirmation, saying it was stored once."""
    flash(ALREADY_RECEIVED_MESSAGE, "notice")
    return redirect(url, code=303)


def answer_if_sent(form: PersonalDataForm) -> None:
    """If ``form`` (validated) was stored before, end the request with the answer its form gives a resend."""
    answer_resend(token_digest(form.submission_token.nonce))


def answer_resend(digest: str) -> None:
    """If a submission holds ``digest``, end the request with the answer its form gives a resend."""
    first = db.session.execute(db.select(Submission).where(Submission.token_digest == digest)).scalar_one_or_none()
    if first is None:
        return
    kind = FORM_KINDS[first.kind]
    if first.erased_at is not None:
        abort(already_received(url_for(kind.endpoint)))  # its confirmation went with it
    if kind.resent is not None:
        abort(current_app.make_response(kind.resent(first)))
    abort(already_received(url_for("submissions.thanks", receipt_id=first.receipt_id)))


MAIL_FAILED_MESSAGE = (
    "Your submission is stored, but the mail about it could not be sent just now. Your consent receipt is linked below."
)


def commit_and_mail(submission: Submission, mails: Callable[[], Iterable[mail.CheckedMessage]] | None = None) -> bool:
    """Commit the submission, then send its mail; return whether all of it went out.

    ``mails`` builds the messages once the rows have their ids; by default
    it is the consent receipt, sent when an address was given. The
    submission is committed first and stays stored whatever happens to the
    mail: a message that cannot be built or sent is logged (without its
    contents) and reported by the return value, never raised.
    """
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


def commit_mail_and_redirect(
    submission: Submission,
    *,
    mails: Callable[[], Iterable[mail.CheckedMessage]] | None = None,
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
