"""The staff side under ``/admin``: sign-in, dashboard, visit log, submissions, export, notices.

One blueprint, :data:`auth.bp`; every view in it needs a signed-in staff
member, which :func:`auth.require_staff` (a blueprint-local
``before_request``) checks.
"""

from . import auth, cli, dashboard, export, notices, review, visitlog  # noqa: F401  (routes on auth.bp)

CONFIG = {
    "STAFF_PASSWORD_MIN_LENGTH": 12,
    "STAFF_SESSION_HOURS": 12,
    # Failed sign-ins. A client address gets STAFF_MAX_FAILURES_PER_CLIENT
    # wrong passwords per account (STAFF_MAX_FAILURES_PER_IP across all
    # accounts) before it is locked out for STAFF_LOCKOUT_SECONDS, doubling
    # with each further failure up to STAFF_LOCKOUT_MAX_SECONDS. An account
    # takes at most STAFF_MAX_FAILURES_PER_ACCOUNT failures from all clients
    # together, then pauses for STAFF_ACCOUNT_PAUSE_SECONDS, except for
    # browsers that signed in to it before (the staff_device cookie). A count
    # with no failure for STAFF_FAILURE_MEMORY_SECONDS starts again from nothing.
    "STAFF_MAX_FAILURES_PER_CLIENT": 5,
    "STAFF_MAX_FAILURES_PER_IP": 20,
    "STAFF_MAX_FAILURES_PER_ACCOUNT": 100,
    "STAFF_ACCOUNT_PAUSE_SECONDS": 3600,
    "STAFF_LOCKOUT_SECONDS": 60,
    "STAFF_LOCKOUT_MAX_SECONDS": 3600,
    "STAFF_FAILURE_MEMORY_SECONDS": 3600,
    "NOTICE_BATCH_SIZE": 50,
    # Sign-in posts per client address, counted by the limiter on top of the throttle above.
    "RATELIMIT_SIGN_IN": "10 per minute;50 per hour",
}


def init_app(app):
    app.register_blueprint(auth.bp)
    app.cli.add_command(cli.staff_group)
    app.cli.add_command(cli.share_group)
