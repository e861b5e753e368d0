"""Durable, batched storage of visit rows: a spool file per process and a writer thread.

Each request appends its row as one JSON line to this process's spool file
with a single ``write()``; nothing waits for the database or the disk on the
request path. The data is then in the kernel's page cache, so it survives
the process being killed (even with SIGKILL). A writer thread reads the new
lines every ``VISIT_FLUSH_INTERVAL`` seconds and inserts them in one
transaction with the driver's ``executemany``. Under load the wait
doubles after every busy batch, up to ``VISIT_FLUSH_MAX_INTERVAL``, so the
database gets fewer, larger batches; when traffic drops it returns to the
short interval. Rows carry an id made
here (``uid``) and are inserted with ON CONFLICT DO NOTHING, so replaying a
spool after a crash stores every row exactly once.

A spool file is locked (``flock``) by the process that writes it for as long
as that process lives. A spool file nobody holds belongs to a process that
died; any writer (and the ``visits`` CLI) drains it and deletes it. A graceful
stop drains everything before the process exits.

A batch holding a visit of a time already archived (a spool replayed after a
crash, a request begun before the hour whose start today is archived up to)
drops that day's archived figures in the same transaction, so the dashboard
counts the day from its visits again until it is re-archived (see
:mod:`.daily`); telling that takes one comparison per batch against the start
of the current hour, and a look at the archive only for a batch older than it.

Erasure reaches every spool file, live or orphaned (see :mod:`.retired`):
the rows of an erased visitor are blanked in place, and a batch is stored
under the shared erasure lock without the rows of retired visitor ids.

What can be lost: only what the kernel loses — rows written in the last
moments before a power cut or kernel crash that were not yet in the database
(at most ``VISIT_FLUSH_MAX_INTERVAL`` plus one batch, since the spool is
not fsynced). A killed process, a database outage or a restart loses nothing.
"""

import atexit
import fcntl
import functools
import itertools
import json
import logging
import os
import secrets
import threading
import time
import weakref
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import and_, insert, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from ..db import db
from ..models import Visit
from ..private_files import open_private, private_dir
from .daily import drop_outdated, late_visits
from .retired import registry, scrub_file, spool_lock, without_retired

log = logging.getLogger(__name__)

SPOOL_SUFFIX = ".jsonl"
ROTATE_BYTES = 4 * 1024 * 1024
# A batch of at least this many rows counts as busy: wait longer next time.
BUSY_BATCH_ROWS = 20
BATCH_ROWS = 2000
# Rows recorded this long before a lookup was asked for still get its answer.
FILL_WINDOW_SECONDS = 3600
SPOOL_DIR = "visit-spool"


def spool_dir(app) -> Path:
    """The directory of the app's spool files (``instance/visit-spool``)."""
    return Path(app.instance_path) / SPOOL_DIR


def flush(app) -> None:
    """Store every visit this process has spooled (tests, CLI, shutdown)."""
    writer = app.extensions.get("webshop.visit_writer")
    if writer is not None:
        writer.flush()


def open_locked(directory: Path) -> tuple[int, Path]:
    """Create a spool file, locked before it becomes visible under its final name.

    Another process's :func:`recover_orphans` may lock and delete the new
    ``.tmp`` file in the instant between its creation and its lock (it looks
    abandoned then). So the lock waits for such a sweep to finish, and if the
    file was deleted meanwhile, a new one is made.
    """
    while True:
        stem = f"{os.getpid()}-{secrets.token_hex(4)}"
        temporary = directory / f"{stem}.tmp"
        fd = os.open(temporary, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_nlink:
            break
        os.close(fd)
    final = directory / f"{stem}{SPOOL_SUFFIX}"
    os.rename(temporary, final)
    return fd, final


_encoder = json.JSONEncoder(separators=(",", ":"))


def encode_line(row: dict) -> bytes:
    return _encoder.encode(row).encode() + b"\n"


def parse_lines(data: bytes, source: str) -> list[dict]:
    rows = []
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            row["time"] = datetime.fromtimestamp(row["time"], UTC).replace(tzinfo=None)
        except (ValueError, KeyError, TypeError):
            log.error("unreadable visit line in %s skipped (%d bytes)", source, len(line))
            continue
        rows.append(row)
    return rows


WRITERS: "weakref.WeakSet[VisitWriter]" = weakref.WeakSet()


def stop_all() -> None:
    """Stop every writer of this process, storing what each holds (tests, shutdown)."""
    for writer in list(WRITERS):
        writer.stop()


class VisitWriter:
    """Appends rows to a spool file and moves them into the database in batches."""

    def __init__(self, app, spool_dir: Path, interval: float, domain_for=None, max_interval: float | None = None):
        WRITERS.add(self)
        self.app = app
        self.spool_dir = spool_dir
        self.interval = interval
        self.max_interval = max(interval, max_interval or interval)
        self.domain_for = domain_for  # ip -> (domain, confirmed) from the cache, or None
        self.append_lock = threading.Lock()  # the request side: swapping the file
        self.drain_lock = threading.Lock()  # one drain at a time
        self.fills: deque[tuple[str, str, bool, datetime]] = deque(maxlen=10_000)
        self.wake = threading.Event()
        self.stopping = False
        self.pid = None
        self.fd = None
        self.path = None
        self.offset = 0
        self.thread = None
        self.failing_since = None
        self.uid_prefix = ""
        self.counter = itertools.count()

    # -- the request side ----------------------------------------------------

    def append(self, row: dict) -> None:
        """Write one row to the spool (one ``write()`` call; no fsync, no database).

        The row's ``uid`` is this spool's random prefix and a counter: unique
        without a system call per request.
        """
        with self.append_lock:
            if self.fd is None or self.pid != os.getpid():
                self.start()
            row["uid"] = f"{self.uid_prefix}{next(self.counter):012x}"
            os.write(self.fd, encode_line(row))

    def fill_domain(self, ip: str, domain: str | None, confirmed: bool, since: datetime) -> None:
        """Fill ``domain`` into rows of ``ip`` recorded since ``since`` that lack one."""
        if domain:
            self.fills.append((ip, domain, confirmed, since))
            self.wake.set()

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        """Open this process's spool and start the writer thread (called with append_lock)."""
        if self.fd is not None and self.pid != os.getpid():
            os.close(self.fd)  # the parent's file, inherited across fork: not ours to write
        private_dir(self.spool_dir)
        self.fd, self.path = open_locked(self.spool_dir)
        self.offset = 0
        self.pid = os.getpid()
        self.uid_prefix = secrets.token_hex(10)
        self.counter = itertools.count()
        self.stopping = False
        self.thread = threading.Thread(target=self.run, name="webshop-visit-writer", daemon=True)
        self.thread.start()
        atexit.register(self.stop)

    def run(self) -> None:
        self.recover()
        delay = self.interval
        while not self.stopping:
            self.wake.wait(delay)
            self.wake.clear()
            if self.stopping:
                break
            try:
                stored = self.drain()
                busy = stored >= BUSY_BATCH_ROWS
                delay = min(self.max_interval, delay * 2) if busy else self.interval
            except Exception:
                self.report_failure()
                time.sleep(min(5.0, self.interval * 20))

    def stop(self) -> None:
        """Stop the thread and store everything spooled so far (graceful shutdown)."""
        if self.pid != os.getpid() or self.thread is None:
            return
        self.stopping = True
        self.wake.set()
        self.thread.join(timeout=30)
        try:
            self.drain(final=True)
            self.recover()
        except Exception:
            log.exception("visits could not be stored at exit; they stay in %s", self.spool_dir)
        self.thread = None
        self.pid = None

    def report_failure(self) -> None:
        now = time.monotonic()
        if self.failing_since is None or now - self.failing_since > 60:
            self.failing_since = now
            log.exception("storing visits failed; rows stay in the spool and are retried")

    # -- moving rows into the database -------------------------------------

    def flush(self) -> None:
        """Store every row spooled by this process now, in the caller's thread."""
        if self.pid == os.getpid():
            self.drain()

    def drain(self, final: bool = False) -> int:
        """Store the rows spooled since the last drain; return how many."""
        with self.drain_lock:
            if self.fd is None:
                return 0
            size = os.fstat(self.fd).st_size
            fills = self.take_fills()
            rows = []
            if size > self.offset or fills:
                data = os.pread(self.fd, size - self.offset, self.offset)
                complete = data.rfind(b"\n") + 1
                rows = parse_lines(data[:complete], str(self.path))
                self.store(rows, fills)
                self.offset += complete
                self.failing_since = None
            if final or self.offset >= ROTATE_BYTES:
                self.rotate(final)
            return len(rows)

    def take_fills(self) -> list:
        fills = []
        while self.fills:
            fills.append(self.fills.popleft())
        return fills

    def rotate(self, final: bool) -> None:
        """Swap in a fresh spool file; drain and delete the old one (called with drain_lock)."""
        old_fd, old_path = self.fd, self.path
        with self.append_lock:
            if final:
                self.fd = self.path = None
            else:
                self.fd, self.path = open_locked(self.spool_dir)
        size = os.fstat(old_fd).st_size
        data = os.pread(old_fd, size - self.offset, self.offset)
        self.store(parse_lines(data, str(old_path)), [])
        self.offset = 0
        os.unlink(old_path)
        os.close(old_fd)

    def recover(self) -> int:
        """Store and delete spool files left by processes that are gone."""
        return recover_orphans(self.app, self.spool_dir, self.domain_for)

    def store(self, rows: list[dict], fills: list) -> None:
        visitor_ids = {row["visitor_id"] for row in rows if row.get("visitor_id")}
        if store_rows(self.app, rows, fills, self.domain_for) and self.path is not None:
            # A request under way while its visitor id was retired spooled
            # the id after the erasure's scrub: blank it here too.
            retired = registry(self.app)
            with self.app.app_context():
                scrub_file(self.path, {v for v in visitor_ids if retired.is_retired(v)})


REJECTED_FILE = "rejected.jsonl"


def store_rows(app, rows: list[dict], fills=(), domain_for=None) -> int:
    """Insert ``rows`` (once each) and apply domain fills, in one transaction.

    Rows of retired visitor ids are left out (or stored without the id, see
    :func:`.retired.without_retired`); returns how many rows that changed.
    If the database refuses the batch for its content rather than because it
    is unreachable, the rows are stored one by one and any row it still
    refuses is set aside in ``visit-spool/rejected.jsonl`` and logged, so
    one bad row never holds up the rest.
    """
    if not rows and not fills:
        return 0
    if domain_for:
        for row in rows:
            if row.get("ip") and "/" not in row["ip"] and not row.get("domain"):  # a network has no name
                row["domain"], row["domain_confirmed"] = domain_for(row["ip"])
    retired = registry(app)
    with app.app_context(), spool_lock(retired.spool_dir, exclusive=False):
        rows, changed = without_retired(rows, retired.current())
        late = late_visits(rows)  # archived figures of their days may no longer hold
        try:
            _store_batch(db.engine, rows, fills, late)
        except (OperationalError, InterfaceError):
            raise  # the database is away: the spool keeps the rows for the next try
        except DBAPIError:
            _store_one_by_one(app, db.engine, rows, fills, late)
    return changed


def _store_one_by_one(app, engine, rows, fills, late) -> None:
    rejected = []
    for row in rows:
        try:
            _store_batch(engine, [row], ())
        except (OperationalError, InterfaceError):
            raise
        except DBAPIError as error:
            rejected.append(row)
            log.error("a visit row was refused by the database (%s); set aside", type(error.orig).__name__)
    _store_batch(engine, [], fills, late)
    if rejected:
        path = private_dir(spool_dir(app)) / REJECTED_FILE
        with open(open_private(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "a", encoding="utf-8") as handle:
            for row in rejected:
                handle.write(json.dumps(row, default=str) + "\n")


def _store_batch(engine, rows, fills, late=None) -> None:
    with engine.begin() as conn:
        insert_rows(conn, rows)
        if late:
            drop_outdated(conn, late)
        for ip, domain, confirmed, since in fills:
            values = {"domain": domain, "domain_confirmed": confirmed}
            conn.execute(
                update(Visit).where(and_(Visit.ip == ip, Visit.domain.is_(None), Visit.time >= since)).values(values)
            )


COLUMNS = tuple(name for name in Visit.__table__.columns.keys() if name != "id")
# The storage format SQLAlchemy's DateTime uses on SQLite, so stored rows compare
# and load exactly like rows written through the ORM.
SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def insert_rows(conn, rows: list[dict]) -> None:
    """INSERT ``rows``, skipping any whose ``uid`` is already stored.

    This runs for every request the shop serves, so on SQLite and PostgreSQL
    it hands the rows straight to the driver's ``executemany`` (one prepared
    statement, no per-row work in SQLAlchemy); other databases go through
    SQLAlchemy Core.
    """
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "sqlite":
        for row in rows:
            if isinstance(row["time"], datetime):
                row["time"] = row["time"].strftime(SQLITE_TIME_FORMAT)
    for start in range(0, len(rows), BATCH_ROWS):
        batch = rows[start : start + BATCH_ROWS]
        if dialect in ("sqlite", "postgresql"):
            conn.exec_driver_sql(insert_statement(dialect), batch)
        else:
            conn.execute(insert(Visit.__table__), batch)


@functools.cache
def insert_statement(dialect: str) -> str:
    mark = ":{}" if dialect == "sqlite" else "%({})s"
    columns = ", ".join(COLUMNS)
    values = ", ".join(mark.format(name) for name in COLUMNS)
    return f"INSERT INTO visit ({columns}) VALUES ({values}) ON CONFLICT (uid) DO NOTHING"


def recover_orphans(app, spool_dir: Path, domain_for=None) -> int:
    """Drain every spool file whose process is gone; return the rows read."""
    if not spool_dir.is_dir():
        return 0
    total = 0
    for path in sorted(spool_dir.glob(f"*{SPOOL_SUFFIX}")):
        if path.name == REJECTED_FILE:
            continue  # rows the database refused, kept for a person to look at
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its process is alive and will store it
            if not path.exists():
                continue  # drained by someone else between open and lock
            with open(fd, "rb", closefd=False) as handle:
                rows = parse_lines(handle.read(), str(path))
            store_rows(app, rows, (), domain_for)
            os.unlink(path)
            total += len(rows)
            if rows:
                log.info("stored %d visits left in %s by a stopped process", len(rows), path.name)
        finally:
            os.close(fd)
    for path in spool_dir.glob("*.tmp"):
        # A file that never got its final name was never written to.
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path.unlink(missing_ok=True)
        except BlockingIOError:
            pass
        finally:
            os.close(fd)
    return total
