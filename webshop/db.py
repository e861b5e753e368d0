"""The database handle, its migrations and SQLite connection settings."""

import os
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

from .private_files import open_private, private_file

MIGRATIONS_DIR = str(Path(__file__).parent / "migrations")


class Base(DeclarativeBase):
    pass


def utcnow() -> datetime:
    """Now in UTC, without tzinfo, as every timestamp column stores it."""
    return datetime.now(UTC).replace(tzinfo=None)


def utc_text(value: datetime | None) -> str | None:
    """A stored timestamp as ISO 8601 text marked UTC (``2026-01-31T12:00:00.5Z``), for JSON."""
    return value.isoformat() + "Z" if value else None


db = SQLAlchemy(model_class=Base)
migrate = Migrate(directory=MIGRATIONS_DIR)


# The files SQLite keeps beside the database, which hold its pages too.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


@event.listens_for(Engine, "do_connect")
def _private_sqlite_file(dialect, connection_record, cargs, cparams):
    """Create the SQLite file 0600 before SQLite opens it, and keep its companions 0600.

    SQLite gives the ``-wal``, ``-shm`` and ``-journal`` files it creates the
    database file's mode, so a private database file keeps all of them
    private whatever the umask; files left from before are made private here.

    An existing file is only ever chmod-ed, never opened: closing any
    descriptor of the database file drops every POSIX lock this process holds
    on it, including the shared lock each of its open connections keeps in
    WAL mode. Another process closing its last connection would then take
    itself for the last one and delete the ``-wal`` file under them, and the
    commits that followed would be lost.
    """
    if dialect.name != "sqlite":
        return
    path = cargs[0] if cargs else cparams.get("database")
    if not isinstance(path, str) or not path or path == ":memory:" or cparams.get("uri") or path.startswith("file:"):
        return
    if not os.path.lexists(path):
        try:
            # O_EXCL: only a file that did not exist, which no connection of this process has open.
            os.close(open_private(path, os.O_RDWR | os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            pass  # another connection created it a moment ago
        except OSError:
            return  # SQLite reports the problem itself when it opens the file
    for suffix in ("", *SQLITE_COMPANIONS):
        private_file(path + suffix)


@event.listens_for(Engine, "connect")
def _tune_sqlite(dbapi_connection, connection_record):
    """WAL, a busy timeout and secure_delete on every SQLite connection.

    WAL lets readers and the writer work at once; the busy timeout makes a
    writer wait for the lock instead of failing with "database is locked";
    secure_delete overwrites erased rows so they leave the file.
    """
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    timeout = 10_000
    try:
        timeout = int(current_app.config["SQLITE_BUSY_TIMEOUT_MS"])
    except RuntimeError:  # connected outside an app context (alembic offline)
        pass
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {timeout}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA secure_delete = ON")
    cursor.close()


def init_app(app):
    db.init_app(app)
    migrate.init_app(app, db)
