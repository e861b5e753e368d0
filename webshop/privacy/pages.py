"""The policy pages: ``/privacy`` with live evidence, the clause map as JSON, the tour."""

import json

from flask import Blueprint, current_app, make_response, render_template

from ..cookies import REGISTRY
from ..policy_text import CLAUSES, POLICY_VERSION, REVISIONS, ip_retention_text
from ..responses import no_store
from . import evidence, practice, tour

bp = Blueprint("privacy", __name__)


@bp.get("/privacy")
def policy():
    """The policy, each clause beside its live evidence for this visitor."""
    return no_store(
        make_response(
            render_template(
                "privacy/policy.html",
                clauses=CLAUSES,
                version=POLICY_VERSION,
                revisions=REVISIONS,
                ip_retention=ip_retention_text(current_app.config["IP_RETENTION_DAYS"]),
                cookie_registry=REGISTRY.values(),
                practices=practice.PRACTICES,
                evidence=evidence.gather(),
            )
        )
    )


@bp.get("/privacy/practice.json")
def practice_map():
    """Clause → features, routes, modules, code and tests, as JSON, clauses in policy order."""
    body = json.dumps(practice.as_json(), indent=2, ensure_ascii=False)
    return current_app.response_class(body + "\n", mimetype="application/json")


@bp.get("/privacy/tour", endpoint="tour")
def tour_page():
    """Steps a reviewer can follow to watch each practice happen, with this browser's state."""
    return no_store(
        make_response(
            render_template(
                "privacy/tour.html",
                steps=tour.STEPS,
                state=tour.live_state(),
                practices=practice.PRACTICES,
            )
        )
    )
