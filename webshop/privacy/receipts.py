"""Consent receipts: one for every submission, as a page, as JSON and by mail.

The fields follow the Kantara Initiative Consent Receipt Specification
v1.1 (version, jurisdiction, consentTimestamp, collectionMethod,
consentReceiptID, language, piiPrincipalId, piiControllers, policyUrl,
services with their purposes, sensitive, spiCat), extended with what this
store promises besides: the policy version, the two opt-out choices made on
that submission, the blocking signal, and the IP address and domain name
recorded with it, shortened (:mod:`.shorten`).

A receipt id is a random UUID, so a receipt is found only by whoever was
given its link; still, the personal values entered are shown masked
(``j***@example.com``) and the IP address only as its network. The full
record is on the "your data" page, behind the link mailed to the address.
"""

from datetime import UTC

from flask import Blueprint, abort, current_app, jsonify, render_template, url_for

from .. import mail
from ..db import db
from ..models import Submission
from ..responses import no_store
from ..submissions import FORM_KINDS, FormKind
from .shorten import short_domain, short_ip

bp = Blueprint("receipts", __name__)
bp.after_request(no_store)

CONFIG = {
    "STORE_JURISDICTION": "Example Republic",  # named in every receipt
}

KANTARA_VERSION = "KI-CR-v1.1.0"
THIRD_PARTIES = "Organisations affiliated with the store and other companies, for their marketing"
INTERNAL_PURPOSE = "Internal review of how the shop is used, and improving its content and layout"
MARKETING_PURPOSE = "Telling you about updates to the site and offers from the store"
SHARING_PURPOSE = (
    "Passing your information to affiliated organisations and other companies for their marketing"
)
RECORDED_CATEGORIES = ("IP address", "Domain name", "Visitor id")


def mask_email(value: str) -> str:
    local, _, domain = value.rpartition("@")
    if not local:
        return mask_text(value)
    return f"{local[0]}***@{domain}"


def mask_text(value: str) -> str:
    value = value.strip()
    return f"{value[0]}***" if value else ""


def mask(name: str, value, kind: FormKind | None):
    """A value as shown on the public receipt."""
    if kind and name in kind.public_fields:
        return value
    if isinstance(value, str):
        return mask_email(value) if "@" in value and name.endswith("email") else mask_text(value)
    if isinstance(value, list):
        return [mask(name, item, kind) for item in value]
    return value


def find_submission(receipt_id: str) -> Submission:
    submission = db.first_or_404(db.select(Submission).where(Submission.receipt_id == receipt_id))
    if submission.erased_at:
        abort(410)
    return submission


def receipt_data(submission: Submission) -> dict:
    """The receipt of ``submission`` as a Kantara v1.1 style dictionary."""
    config = current_app.config
    kind = FORM_KINDS.get(submission.kind)
    service = kind.service if kind else submission.kind
    shared = submission.shareable
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
            "thirdPartyName": THIRD_PARTIES if disclosed else "",
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
            disclosed=shared,
            opted_out=not shared,
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
        "piiPrincipalId": mask_email(submission.email) if submission.email else "Not given",
        "piiControllers": [
            {
                "piiController": config["STORE_NAME"],
                "contact": "Privacy team",
                "address": config["STORE_ADDRESS"],
                "email": config["STORE_EMAIL"],
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


@bp.get("/receipt/<uuid:receipt_id>")
def show(receipt_id):
    submission = find_submission(str(receipt_id))
    return render_template("receipts/show.html", receipt=receipt_data(submission), submission=submission)


@bp.get("/receipt/<uuid:receipt_id>.json")
def as_json(receipt_id):
    submission = find_submission(str(receipt_id))
    return jsonify(receipt_data(submission))


def receipt_message(submission: Submission):
    """The consent receipt as a mail to the address given with the submission."""
    receipt = receipt_data(submission)
    text = render_template("receipts/mail.txt", receipt=receipt, submission=submission)
    service = receipt["services"][0]["service"]
    return mail.build_message(submission.email, f"Your consent receipt: {service}", text)


def init_app(app):
    app.register_blueprint(bp)
