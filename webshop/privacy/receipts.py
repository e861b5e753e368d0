"""Consent receipts as pages: ``/receipt/<id>`` and ``/receipt/<id>.json``.

The receipt itself (a Kantara v1.1 style document, masked and shortened)
is built where every submission is recorded:
:func:`webshop.submissions.receipt_data`. A receipt id is a random UUID, so
a receipt is found only by whoever was given its link; an erased
submission's receipt is gone (410).
"""

from flask import Blueprint, abort, jsonify, render_template

from ..db import db
from ..models import Submission
from ..responses import no_store
from ..submissions import receipt_data

bp = Blueprint("receipts", __name__)
bp.after_request(no_store)

CONFIG = {
    "STORE_JURISDICTION": "Example Republic",  # named in every receipt
}


def find_submission(receipt_id: str) -> Submission:
    submission = db.first_or_404(db.select(Submission).where(Submission.receipt_id == receipt_id))
    if submission.erased_at:
        abort(410)
    return submission


@bp.get("/receipt/<uuid:receipt_id>")
def show(receipt_id):
    submission = find_submission(str(receipt_id))
    return render_template("receipts/show.html", receipt=receipt_data(submission), submission=submission)


@bp.get("/receipt/<uuid:receipt_id>.json")
def as_json(receipt_id):
    submission = find_submission(str(receipt_id))
    return jsonify(receipt_data(submission))


def init_app(app):
    app.register_blueprint(bp)
