"""The privacy policy page and what hangs off it."""

from flask import Blueprint, render_template

from ..cookies import REGISTRY
from .policy import CLAUSES, POLICY_VERSION

bp = Blueprint("privacy", __name__)


@bp.get("/privacy")
def policy():
    return render_template(
        "privacy/policy.html",
        clauses=CLAUSES,
        version=POLICY_VERSION,
        cookie_registry=REGISTRY.values(),
    )


def init_app(app):
    app.register_blueprint(bp)
