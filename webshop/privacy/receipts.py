"""Consent receipts: ``/receipt/<id>`` (page), ``.json`` (the frozen document), ``.jwt`` (it, signed).

The document is frozen when the submission is recorded
(:func:`webshop.submissions.build_receipt`) and served byte for byte;
``.jwt`` is those bytes as a compact JWS (:mod:`webshop.receipt_signatures`),
and ``/.well-known/jwks.json`` publishes the keys that verify it. Beside the
document stands its status, ACTIVE or REVOKED with the time consent was
withdrawn or the data erased, as the ``Receipt-Status`` header. A receipt
id is a random UUID, so a receipt is found only by whoever was given its
link; an erased submission's receipt is gone (410), its document with it.
"""

from flask import Blueprint, Response, abort, current_app, jsonify, render_template

from ..db import db
from ..models import Submission
from ..receipt_signatures import load_signer, signer_of
from ..responses import no_store
from ..submissions import receipt_data, receipt_status, stored_receipt

bp = Blueprint("receipts", __name__)
bp.after_request(no_store)
keys = Blueprint("receipt_keys", __name__)  # public and cacheable, unlike every receipt

CONFIG = {
    "STORE_JURISDICTION": "Example Republic",  # named in every receipt
}
STATUS_HEADER = "Receipt-Status"
JWKS_MAX_AGE = 3600  # a new key is published before it signs; see docs/operations.md


def find_submission(receipt_id: str) -> Submission:
    return db.first_or_404(db.select(Submission).where(Submission.receipt_id == receipt_id))


def document_response(receipt_id: str, body, mimetype: str) -> Response:
    """The receipt as ``body(document)`` with its status; 410 with the status once it is erased."""
    submission = find_submission(receipt_id)
    status = receipt_status(submission)
    document = stored_receipt(submission)
    if document is None:
        response = jsonify(consentReceiptID=submission.receipt_id, status=status.name, revokedAt=status.at)
        response.status_code = 410
    else:
        response = Response(body(document.encode()), mimetype=mimetype)
    response.headers[STATUS_HEADER] = status.header()
    return response


@bp.get("/receipt/<uuid:receipt_id>")
def show(receipt_id):
    submission = find_submission(str(receipt_id))
    receipt = receipt_data(submission)
    if receipt is None:
        abort(410)
    return render_template(
        "receipts/show.html", receipt=receipt, submission=submission, status=receipt_status(submission)
    )


@bp.get("/receipt/<uuid:receipt_id>.json")
def as_json(receipt_id):
    return document_response(str(receipt_id), lambda document: document, "application/json")


@bp.get("/receipt/<uuid:receipt_id>.jwt")
def as_jwt(receipt_id):
    return document_response(str(receipt_id), signer_of(current_app).sign, "application/jwt")


@keys.get("/.well-known/jwks.json")
def jwks():
    """The public keys receipts are signed with, current and retired (a JWK Set)."""
    response = jsonify(signer_of(current_app).jwks())
    response.mimetype = "application/jwk-set+json"
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE}"
    return response


def init_app(app):
    load_signer(app)  # the signing key, generated into instance/ on first start
    app.register_blueprint(bp)
    app.register_blueprint(keys)
