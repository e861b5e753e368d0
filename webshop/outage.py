"""When the database cannot be reached: a clear 503 page, never a 500.

Pages that need the database answer "Temporarily unavailable" with
``Retry-After`` while it is away; pages that do not (static files, the GPC
statement) keep working. Nothing else is needed for recovery: the pool
checks each connection before use (``pool_pre_ping``), so the first request
after the database returns gets a fresh one. Visit rows wait in the spool
meanwhile (see ``visits/writer.py``).
"""

import logging

from flask import has_request_context, render_template, request
from sqlalchemy import exc

from .db import db
from .security import ERROR_TEXT, render_error
from .visits.redact import redact_path

log = logging.getLogger(__name__)

# Seconds a client is asked to wait before trying again.
RETRY_AFTER_SECONDS = 15

# Errors that can mean "unreachable or busy" rather than "this code is wrong".
CANDIDATES = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError)

# SQLite reports mistakes in a statement (syntax, missing table) as
# OperationalError too; only these messages mean the file cannot be used now.
SQLITE_UNAVAILABLE = ("database is locked", "database table is locked", "unable to open", "disk i/o error")


def database_unavailable(error: Exception) -> bool:
    """Whether ``error`` says the database is out of reach (or too busy), not that a query is wrong."""
    if isinstance(error, exc.TimeoutError):  # no pooled connection came free in time
        return True
    original = getattr(error, "orig", None)
    if type(original).__module__.startswith("sqlite3"):
        return str(original).lower().startswith(SQLITE_UNAVAILABLE)
    return True  # psycopg: OperationalError and InterfaceError are connection-level


def reachable() -> bool:
    """Whether a fresh connection to the database answers ``SELECT 1`` right now."""
    try:
        with db.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except exc.SQLAlchemyError:
        return False
    return True


def unavailable(error: Exception) -> bool:
    """Whether a database error raised by a view means the database is away.

    Connection-level errors say so themselves. Any other SQLAlchemy error
    (a session left unusable by a connection lost mid-transaction, say) is
    an outage only if the database does not answer a fresh connection now;
    if it does, the error is a fault in the code and stays a 500.
    """
    if isinstance(error, CANDIDATES) and database_unavailable(error):
        return True
    return not reachable()


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else ""


def render_unavailable(error):
    """The 503 page, with the session rolled back and one log line without secrets.

    The line names the driver's error class and its first line only, never
    SQLAlchemy's full message, which carries the statement and its
    parameters (what a visitor typed). The path is redacted like the access
    line's: a link token in it was not used (the work was rolled back), so
    whoever read it could still open the link.
    """
    if not unavailable(error):
        return render_error(error)
    try:
        db.session.rollback()
    except Exception:  # the connection is already gone; teardown discards the session
        log.debug("rollback after a lost connection failed", exc_info=True)
    original = getattr(error, "orig", None) or error
    log.warning(
        "database unavailable (503) on %s %s: %s: %s",
        request.method,
        redact_path(request.path)[:200],
        type(original).__name__,
        first_line(original),
    )
    title, text = ERROR_TEXT[503]
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    try:
        return render_template("error.html", code=503, title=title, text=text), 503, headers
    except Exception:
        log.debug("error page could not be rendered", exc_info=True)
        headers["Content-Type"] = "text/plain; charset=utf-8"
        return f"{title}\n\n{text}\n", 503, headers


def close_session(error):
    """End the request's session; a connection lost meanwhile must not turn an answer into a 500.

    Closing rolls back, which needs the connection. If the database went
    away after the view was done, that rollback fails although the answer
    is complete; the connection is discarded (the pool replaces it) and the
    answer stands. Runs before Flask-SQLAlchemy's own teardown, which then
    finds nothing left to close.
    """
    try:
        db.session.remove()
    except exc.SQLAlchemyError as lost:
        if not unavailable(lost):
            raise
        db.session.registry.clear()
        original = getattr(lost, "orig", None) or lost
        where = f"{request.method} {redact_path(request.path)[:200]}" if has_request_context() else "a task"
        log.warning(
            "database connection lost at the end of %s: %s: %s", where, type(original).__name__, first_line(original)
        )


def init_app(app):
    app.register_error_handler(exc.SQLAlchemyError, render_unavailable)
    # Registered after db.init_app, so it runs before Flask-SQLAlchemy's teardown.
    app.teardown_appcontext(close_session)
