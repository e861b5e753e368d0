"""``flask backup``: a consistent copy of the database while the shop keeps serving.

SQLite is copied with its online backup API, page by page, so writers are
never blocked for long and the copy is a consistent snapshot; the copy is
then checked with ``PRAGMA integrity_check``. PostgreSQL is dumped with
``pg_dump`` (custom format, restore with ``pg_restore``).
"""

import shutil
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url

from .db import db


def default_target(suffix: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = Path(current_app.instance_path) / "backups"
    folder.mkdir(exist_ok=True)
    return folder / f"webshop-{stamp}{suffix}"


def backup_sqlite(source: str, target: Path) -> int:
    """Copy the SQLite database at ``source`` to ``target``; return the page count."""
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


def backup_postgresql(url, target: Path) -> None:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise click.ClickException("pg_dump is not installed; install the postgresql-client package")
    plain = url.set(drivername="postgresql")
    subprocess.run(
        [pg_dump, "--format=custom", "--file", str(target), plain.render_as_string(hide_password=False)],
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
        if target.exists():
            raise click.ClickException(f"{target} already exists; choose another --output")
        pages = backup_sqlite(url.database, target)
        click.echo(f"Backed up {pages} pages to {target} (integrity check ok).")
    elif url.get_backend_name() == "postgresql":
        target = output or default_target(".pgdump")
        backup_postgresql(url, target)
        click.echo(f"Dumped the database to {target}; restore with pg_restore.")
    else:
        raise click.ClickException(f"no backup method for {url.get_backend_name()}")


def init_app(app):
    app.cli.add_command(backup_command)
