"""Endpoints of the visit-recording concern: the health check and the GPC statement."""

from flask import Blueprint, jsonify
from sqlalchemy import text

from ..db import db

bp = Blueprint("visits", __name__)

# The date this site's handling of Global Privacy Control last changed.
GPC_LAST_UPDATE = "2026-11-27"


@bp.get("/healthz")
def healthz():
    """For load balancers: 200 when the database answers. Not recorded as a visit."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        return jsonify(status="database unavailable"), 503
    return jsonify(status="ok")


@bp.get("/.well-known/gpc.json")
def gpc_statement():
    """The GPC support resource: this site honours ``Sec-GPC: 1``."""
    response = jsonify(gpc=True, lastUpdate=GPC_LAST_UPDATE)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response
