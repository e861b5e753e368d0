"""Retired visitor ids: the ids whose visits were erased, never recorded again.

Erasing an address erases the visits linked through its submissions'
visitor ids, and retires those ids. A retired id is kept only as the
SHA-256 of the id (a visitor id is 128 random bits, so the hash cannot be
turned back into it). A request still carrying a retired id is treated as
carrying none: it is recorded without it and the browser gets a new id.

Every process learns of a retirement from the stamp file
``visit-spool/retired``, which grows by one byte after each retirement is
committed. A process checks it (one ``stat``) when a request carries a
visitor id and before it stores a batch, and reloads the hashes when it
changed.

The erasure reaches every process's spool file, a dead process's and the
set-aside rows too, while they are written: holding ``visit-spool/erasure.lock``
exclusively, it blanks each spooled line of a retired id in place (spaces of
the same length, so a writer's read offset stays right). Writers hold the
same lock shared while they store a batch and drop the rows of retired ids,
so no erased visit reaches the database after its erasure.
"""

import fcntl
import hashlib
import json
import logging
import os
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from ..db import db
from ..models import RetiredVisitor, utcnow
from ..private_files import open_private, private_dir

log = logging.getLogger(__name__)

STAMP_FILE = "retired"
LOCK_FILE = "erasure.lock"
SPOOL_PATTERN = "*.jsonl"


def id_hash(visitor_id: str) -> str:
    return hashlib.sha256(visitor_id.encode()).hexdigest()


@contextmanager
def spool_lock(spool_dir: Path, exclusive: bool):
    """The erasure lock: exclusive while an erasure scrubs, shared while a writer stores."""
    fd = open_private(private_dir(spool_dir) / LOCK_FILE, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


class RetiredVisitors:
    """This process's copy of the retired hashes, reloaded when the stamp says they changed."""

    def __init__(self, spool_dir: Path):
        self.spool_dir = spool_dir
        self.stamp = spool_dir / STAMP_FILE
        self.seen: tuple | None = ()  # never a real stamp: the first call loads
        self.hashes: dict[str, datetime] = {}
        self.lock = threading.Lock()

    def stamp_now(self) -> tuple | None:
        try:
            stat = os.stat(self.stamp)
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_size)

    def current(self) -> dict[str, datetime]:
        """Hash -> when retired (needs an app context when it reloads)."""
        stamp = self.stamp_now()
        if stamp != self.seen:
            with self.lock:
                if stamp != self.seen:
                    try:
                        with db.engine.connect() as conn:
                            rows = conn.execute(select(RetiredVisitor.id_hash, RetiredVisitor.retired_at)).all()
                    except SQLAlchemyError:
                        log.warning("retired visitor ids could not be loaded; retrying with the next request")
                        return self.hashes
                    self.hashes = dict(rows)
                    self.seen = stamp
        return self.hashes

    def is_retired(self, visitor_id: str) -> bool:
        hashes = self.current()
        return bool(hashes) and id_hash(visitor_id) in hashes

    def announce(self) -> None:
        """Tell every process that more ids are retired (after the commit)."""
        fd = open_private(private_dir(self.spool_dir) / STAMP_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, b".")
        finally:
            os.close(fd)


def registry(app=None) -> RetiredVisitors | None:
    return (app or current_app).extensions.get("webshop.retired_visitors")


def retire(visitor_ids) -> None:
    """Add ``visitor_ids`` to the retired list in the session (the caller commits, then announces).

    Entries older than the visitor cookie's lifetime are dropped: a cookie
    that old is refused anyway, so its id can never come back.
    """
    now = utcnow()
    known = set(
        db.session.execute(
            select(RetiredVisitor.id_hash).where(RetiredVisitor.id_hash.in_([id_hash(v) for v in visitor_ids]))
        ).scalars()
    )
    for visitor_id in sorted(visitor_ids):
        if id_hash(visitor_id) not in known:
            db.session.add(RetiredVisitor(id_hash=id_hash(visitor_id), retired_at=now))
    cutoff = now - timedelta(days=current_app.config["VISITOR_MAX_AGE_DAYS"] + 1)
    db.session.execute(delete(RetiredVisitor).where(RetiredVisitor.retired_at < cutoff))


def without_retired(rows: list[dict], hashes: dict[str, datetime]) -> tuple[list[dict], int]:
    """``rows`` without the visits of retired ids; how many rows were dropped or changed.

    A row recorded before its id was retired is the erased visitor's and is
    dropped; a later one (a request that was under way as the id retired)
    is kept without the id.
    """
    if not hashes:
        return rows, 0
    kept, changed = [], 0
    for row in rows:
        visitor_id = row.get("visitor_id")
        retired_at = hashes.get(id_hash(visitor_id)) if visitor_id else None
        if retired_at is not None:
            changed += 1
            if row["time"] < retired_at:
                continue
            row["visitor_id"] = None
        kept.append(row)
    return kept, changed


def scrub_spools(spool_dir: Path, visitor_ids) -> int:
    """Blank the lines of ``visitor_ids`` in every spool file; how many (hold the lock exclusively)."""
    if not visitor_ids or not spool_dir.is_dir():
        return 0
    return sum(scrub_file(path, visitor_ids) for path in sorted(spool_dir.glob(SPOOL_PATTERN)))


def scrub_file(path: Path, visitor_ids) -> int:
    """Overwrite each complete line of ``path`` whose ``visitor_id`` is in ``visitor_ids`` with spaces.

    The line keeps its length and its newline, so whoever appends to the
    file or reads it from an offset is not disturbed; readers skip blank lines.
    """
    wanted = set(visitor_ids)
    needles = [json.dumps(v).encode() for v in wanted]
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)  # without O_APPEND: pwrite in place
    except FileNotFoundError:
        return 0
    blanked = 0
    try:
        with open(fd, "rb", closefd=False) as handle:
            data = handle.read()
        end = data.rfind(b"\n") + 1
        start = 0
        for line in data[:end].split(b"\n")[:-1]:
            if any(needle in line for needle in needles) and _visitor_of(line) in wanted:
                os.pwrite(fd, b" " * len(line), start)
                blanked += 1
            start += len(line) + 1
        if blanked:
            os.fdatasync(fd)  # the old bytes leave the disk, not only the page cache
    finally:
        os.close(fd)
    return blanked


def _visitor_of(line: bytes) -> str | None:
    try:
        row = json.loads(line)
    except ValueError:
        return None
    return row.get("visitor_id") if isinstance(row, dict) else None
