"""The staff side under ``/admin``: sign-in, dashboard, visit log, submissions, export, notices.

One blueprint; every view in it needs a signed-in staff member, which
:func:`auth.require_staff` (a blueprint-local ``before_request``) checks.
"""

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/admin")

STAFF_DEFAULTS = {
    "STAFF_PASSWORD_MIN_LENGTH": 12,
    "STAFF_SESSION_HOURS": 12,
    # Failed sign-ins: after this many the account (or the client IP) is
    # locked out, for STAFF_LOCKOUT_SECONDS, doubling with each further
    # failure up to STAFF_LOCKOUT_MAX_SECONDS. A count with no failure for
    # STAFF_FAILURE_MEMORY_SECONDS starts again from nothing.
    "STAFF_MAX_FAILURES_PER_ACCOUNT": 5,
    "STAFF_MAX_FAILURES_PER_IP": 20,
    "STAFF_LOCKOUT_SECONDS": 60,
    "STAFF_LOCKOUT_MAX_SECONDS": 3600,
    "STAFF_FAILURE_MEMORY_SECONDS": 3600,
    "NOTICE_BATCH_SIZE": 50,
}


def init_app(app):
    for name, value in STAFF_DEFAULTS.items():
        app.config.setdefault(name, value)

    from . import auth, dashboard, export, notices, review, visitlog  # noqa: F401  (routes on bp)

    app.register_blueprint(bp)
    app.cli.add_command(auth.staff_group)
    app.cli.add_command(export.share_group)
