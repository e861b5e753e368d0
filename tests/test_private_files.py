"""Files with personal data are 0600 whatever the umask; command output never follows a symlink."""

import os
import stat
import subprocess
import sys

import pytest
from sqlalchemy import select

from tests.support.forms import FORMS, send
from tests.support.pages import acknowledge_banner
from tests.support.staff import add_recipient
from webshop.db import db
from webshop.models import LedgerEntry, Visit
from webshop.visits import flush
from webshop.visits.writer import store_rows


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def modes_under(folder) -> dict[str, int]:
    found = {".": stat.S_IMODE(os.lstat(folder).st_mode)}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            found[os.path.relpath(path, folder)] = stat.S_IMODE(os.lstat(path).st_mode)
    return found


def refused_visit_row(app) -> dict:
    """A copy of a stored visit that the database refuses for its content (no method)."""
    with app.app_context():
        visit = db.session.execute(select(Visit).limit(1)).scalar_one()
        row = {c: getattr(visit, c) for c in Visit.__table__.columns.keys() if c != "id"}
    return {**row, "uid": "r" * 32, "method": None}


def test_every_file_under_instance_is_private_under_umask_022(umask_022, app, client, runner, instance_path, database):
    acknowledge_banner(client)
    client.get("/search?q=private")
    contact = next(case for case in FORMS if case.kind == "contact")
    assert send(client, app, contact).status_code == 303  # a copy of the mail goes to the outbox
    flush(app)
    store_rows(app, [refused_visit_row(app)])  # set aside in rejected.jsonl
    result = runner.invoke(args=["backup"])
    assert result.exit_code == 0, result.output

    modes = modes_under(instance_path)
    expected = {"visit-spool/rejected.jsonl", "outbox/new", "backups"}
    if database.startswith("sqlite"):
        expected |= {"webshop.sqlite3", "webshop.sqlite3-wal", "webshop.sqlite3-shm"}
    assert expected <= set(modes), sorted(modes)
    assert any(name.startswith("outbox/new/") for name in modes)
    assert any(name.startswith("backups/webshop-") for name in modes)
    assert any(name.startswith("visit-spool/") and name.endswith(".jsonl") for name in modes if "rejected" not in name)
    for name, mode in modes.items():
        kind = "directory" if os.path.isdir(instance_path / name) else "file"
        wanted = 0o700 if kind == "directory" else 0o600
        assert mode == wanted, f"{kind} {name} is {mode:o}, not {wanted:o}"


OUTPUT_COMMANDS = {
    "visits export": ["visits", "export", "-o"],
    "share export": ["share", "export", "--recipient", "Partner Co", "--output"],
    "backup": ["backup", "--output"],
}


@pytest.mark.parametrize("command", OUTPUT_COMMANDS)
def test_a_symlink_at_the_output_path_is_refused_and_its_target_untouched(app, runner, tmp_path, command):
    add_recipient(app)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "out"
    link.symlink_to(victim)
    result = runner.invoke(args=[*OUTPUT_COMMANDS[command], str(link)])
    assert result.exit_code != 0
    assert "is a symbolic link" in result.output
    assert victim.read_text() == "precious"
    assert link.is_symlink() and os.readlink(link) == str(victim)

    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "created-through-the-link")
    result = runner.invoke(args=[*OUTPUT_COMMANDS[command], str(dangling)])
    assert result.exit_code != 0 and "is a symbolic link" in result.output
    assert not (tmp_path / "created-through-the-link").exists()
    with app.app_context():
        assert db.session.execute(select(LedgerEntry)).scalars().all() == []  # nothing was exported


@pytest.mark.parametrize("command", OUTPUT_COMMANDS)
def test_an_existing_output_file_is_refused_and_kept(app, runner, tmp_path, command):
    add_recipient(app)
    existing = tmp_path / "existing"
    existing.write_text("keep me")
    result = runner.invoke(args=[*OUTPUT_COMMANDS[command], str(existing)])
    assert result.exit_code != 0 and "already exists" in result.output
    assert existing.read_text() == "keep me"


@pytest.mark.parametrize("command", OUTPUT_COMMANDS)
def test_output_files_are_created_0600_under_umask_022(umask_022, app, runner, tmp_path, command):
    add_recipient(app)
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "fresh"
    result = runner.invoke(args=[*OUTPUT_COMMANDS[command], str(target)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.lstat(target).st_mode) == 0o600
    assert [p.name for p in folder.iterdir()] == ["fresh"]  # no temporary file left beside it


def in_another_process(database_path: str, script: str) -> str:
    """Run ``script`` with ``connection``, a plain sqlite3 connection to the file, in a new process."""
    prelude = "import sqlite3, sys\nconnection = sqlite3.connect(sys.argv[1])\n"
    command = [sys.executable, "-c", prelude + script, database_path]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


ADD_CATEGORY = "INSERT INTO category (slug, name, blurb) VALUES ('{0}', '{0}', '')"


@pytest.mark.only_database("sqlite")
def test_a_new_connection_keeps_the_locks_of_the_open_ones_so_no_commit_is_lost(app, database):
    """Another worker closing its last connection must not take the write-ahead log away from this one.

    In WAL mode each open connection holds a shared POSIX lock on the database
    file, and the last connection to close checkpoints and deletes the
    ``-wal`` file. Closing any descriptor of the file in a process drops that
    process's locks, so making the file private by opening it, while another
    connection of the same process is open, let a second process believe it
    was the last: it deleted the log under the first, whose commits then went
    to a deleted file.
    """
    path = database.removeprefix("sqlite:///")
    with app.app_context():
        engine = db.engine
        with engine.connect() as first:
            first.exec_driver_sql("SELECT count(*) FROM category").scalar_one()
            with engine.connect() as second:  # a second pooled connection, as a worker's writer thread has
                second.exec_driver_sql("SELECT count(*) FROM category").scalar_one()
                write_and_close = f"connection.execute({ADD_CATEGORY.format('other')!r})\nconnection.commit()"
                in_another_process(path, write_and_close + "\nconnection.close()")
                assert os.path.exists(path + "-wal"), "the other process deleted the log of open connections"
                first.exec_driver_sql(ADD_CATEGORY.format("this"))
                first.commit()
        engine.dispose()
    found = in_another_process(
        path,
        "rows = connection.execute(\"SELECT slug FROM category WHERE slug IN ('other', 'this')\")\n"
        "print(sorted(slug for (slug,) in rows))\n"
        "print(connection.execute('PRAGMA integrity_check').fetchone()[0])",
    )
    assert found.split("\n")[:2] == ["['other', 'this']", "ok"]
