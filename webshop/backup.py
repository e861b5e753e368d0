"""``flask backup``: a consistent copy of the database while the shop keeps serving.

SQLite is copied with its online backup API, page by page, so writers are
never blocked for long and the copy is a consistent snapshot; the copy is
then checked with ``PRAGMA integrity_check``. PostgreSQL is dumped with
``pg_dump`` (custom format, restore with ``pg_restore``).

A backup holds everything the shop holds, so it is written like every
command's output: to a new file only, mode 0600, never through a symlink
(:func:`webshop.private_files.create_output`).
"""

import os
import shutil
import sqlite3
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url

from .db import db
from .private_files import FILE_MODE, create_output, private_dir

COPY_CHUNK = 1024 * 1024


def default_target(suffix: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = private_dir(Path(current_app.instance_path) / "backups")
    return folder / f"webshop-{stamp}{suffix}"


def backup_sqlite(source: str, output, beside: Path) -> int:
    """Copy the SQLite database at ``source`` into the open file ``output``; return the page count.

    SQLite writes the copy into a private temporary folder in ``beside``
    (the output's folder), from where it is copied into ``output`` and deleted.
    """
    folder = tempfile.mkdtemp(prefix=".webshop-backup-", dir=beside)
    copy = Path(folder) / "copy.sqlite3"
    try:
        os.close(os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        pages = _copy_database(source, copy)
        with open(copy, "rb") as handle:
            shutil.copyfileobj(handle, output, COPY_CHUNK)
        return pages
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _copy_database(source: str, target: Path) -> int:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.execute("PRAGMA busy_timeout = 10000")
        # Copy in steps of 256 pages, letting writers in between steps.
        src.backup(dst, pages=256, sleep=0.005)
        dst.execute("PRAGMA journal_mode = DELETE")
        result = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if result != "ok":
            raise click.ClickException(f"the copy failed its integrity check: {result}")
        return dst.execute("PRAGMA page_count").fetchone()[0]
    finally:
        dst.close()
        src.close()


def backup_postgresql(url, output) -> None:
    """Dump the PostgreSQL database at ``url`` into the open file ``output``."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise click.ClickException("pg_dump is not installed; install the postgresql-client package")
    plain = url.set(drivername="postgresql")
    output.flush()
    subprocess.run(
        [pg_dump, "--format=custom", plain.render_as_string(hide_password=False)],
        stdout=output.fileno(),
        check=True,
    )


@click.command("backup")
@click.option("--output", "output", type=click.Path(dir_okay=False, path_type=Path), help="where to write the copy")
@with_appcontext
def backup_command(output):
    """Write a consistent copy of the database (default: instance/backups/)."""
    url = make_url(str(db.engine.url))
    if url.get_backend_name() == "sqlite":
        target = output or default_target(".sqlite3")
        with create_output(target, binary=True) as handle:
            pages = backup_sqlite(url.database, handle, target.parent)
        click.echo(f"Backed up {pages} pages to {target} (integrity check ok).")
    elif url.get_backend_name() == "postgresql":
        target = output or default_target(".pgdump")
        with create_output(target, binary=True) as handle:
            backup_postgresql(url, handle)
        click.echo(f"Dumped the database to {target}; restore with pg_restore.")
    else:
        raise click.ClickException(f"no backup method for {url.get_backend_name()}")


def init_app(app):
    app.cli.add_command(backup_command)
