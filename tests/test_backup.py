"""``flask backup`` copies the database consistently, even while it is being written."""

import sqlite3
import threading

import pytest
from sqlalchemy import text

from webshop.db import db
from webshop.models import Product


@pytest.mark.only_database("sqlite")
def test_sqlite_backup_is_a_consistent_copy_taken_while_writers_run(app, runner, tmp_path):
    target = tmp_path / "copy.sqlite3"
    stop = threading.Event()
    written = []

    def writer():
        with app.app_context():
            while not stop.is_set():
                db.session.execute(text("UPDATE product SET price_cents = price_cents + 1 WHERE id = 1"))
                db.session.commit()
                written.append(1)
        with app.app_context():
            db.session.remove()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        result = runner.invoke(args=["backup", "--output", str(target)])
    finally:
        stop.set()
        thread.join()
    assert result.exit_code == 0, result.output
    assert "integrity check ok" in result.output
    assert written  # the shop kept writing during the copy
    copy = sqlite3.connect(target)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert copy.execute("SELECT count(*) FROM product").fetchone()[0] >= 24
    with app.app_context():
        assert db.session.execute(db.select(db.func.count(Product.id))).scalar_one() >= 24
    copy.close()


@pytest.mark.only_database("sqlite")
def test_backup_refuses_to_overwrite(runner, tmp_path):
    target = tmp_path / "exists.sqlite3"
    target.write_text("keep me")
    result = runner.invoke(args=["backup", "--output", str(target)])
    assert result.exit_code != 0 and "already exists" in result.output
    assert target.read_text() == "keep me"


@pytest.mark.only_database("postgresql")
def test_postgresql_backup_is_a_pg_dump_that_restores(app, runner, tmp_path, postgres_server):
    import subprocess
    import uuid

    target = tmp_path / "dump.pgdump"
    result = runner.invoke(args=["backup", "--output", str(target)])
    assert result.exit_code == 0, result.output
    name = "restore_" + uuid.uuid4().hex[:8]
    postgres_server.admin(f"CREATE DATABASE {name}")
    subprocess.run(
        ["pg_restore", "--no-owner", "-d", postgres_server.url(name).replace("+psycopg", ""), str(target)],
        check=True,
        capture_output=True,
    )
    from sqlalchemy import create_engine

    engine = create_engine(postgres_server.url(name))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM product")).scalar_one() >= 24
    engine.dispose()
    postgres_server.admin(f"DROP DATABASE {name} WITH (FORCE)")
