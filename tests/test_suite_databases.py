"""Every test gets a PostgreSQL database in the template's state, whatever the test before it did.

The suite keeps one database per worker and puts it back between tests
(tests/support/fresh_postgres.py). Four throwaway tests run in that order by
a real pytest with this suite's conftest: the first writes rows through the
shop and directly, moves sequences, changes the catalogue and keeps a
connection open; the second finds none of it, and the old connection cannot
reach its database; the third changes the schema; the fourth has the
template's schema again.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

THROWAWAY = """
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

SEEDED = {"alembic_version", "category", "product"}
STATE = {}


def query(database, sql):
    engine = create_engine(database)
    with engine.connect() as conn:
        rows = conn.execute(text(sql)).all()
    engine.dispose()
    return rows


def tables(database):
    return [name for (name,) in query(database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]


def counts(database):
    return {table: query(database, f'SELECT count(*) FROM "{table}"')[0][0] for table in tables(database)}


def sequences(database):
    names = [name for (name,) in query(database, "SELECT sequencename FROM pg_sequences ORDER BY 1")]
    return {name: tuple(query(database, f"SELECT last_value, is_called FROM {name}")[0]) for name in names}


def template_of(database):
    return database.rsplit("/", 1)[0] + "/webshop_template"


def product_columns(database):
    sql = "SELECT column_name FROM information_schema.columns WHERE table_name = 'product' ORDER BY 1"
    return [name for (name,) in query(database, sql)]


def test_1_writes_rows_everywhere_and_leaves_a_connection_open(app, client, database):
    template = template_of(database)
    STATE.update(
        database=database,
        counts=counts(template),
        sequences=sequences(template),
        catalogue=query(template, "SELECT * FROM product ORDER BY id"),
    )
    assert query(database, "SELECT * FROM product ORDER BY id") == STATE["catalogue"]
    assert client.get("/").status_code == 200
    assert client.post("/newsletter", data={"email": "jane@example.org", "topics": ["offers"]}).status_code < 500
    engine = create_engine(database)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO staff_user (name, password_hash, created_at) VALUES ('alice', 'x', now())"))
        conn.execute(text("UPDATE product SET price_cents = price_cents + 1"))
        conn.execute(text("DELETE FROM category WHERE id NOT IN (SELECT category_id FROM product)"))
        conn.execute(text("SELECT nextval('visit_id_seq')"))
    STATE["leaked"] = engine  # never disposed: a client a test left behind
    STATE["leaked_connection"] = engine.connect()
    from webshop.visits import flush

    flush(app)
    written = counts(database)
    assert written["staff_user"] == 1 and written["visit"] >= 1
    assert query(database, "SELECT * FROM product ORDER BY id") != STATE["catalogue"]


def test_2_finds_none_of_it_and_the_old_connection_cannot_reach_it(database):
    assert database != STATE["database"], "each test has a database name of its own"
    assert counts(database) == STATE["counts"]
    assert all(count == 0 for table, count in counts(database).items() if table not in SEEDED)
    assert all(count > 0 for table, count in counts(database).items() if table in SEEDED)
    assert query(database, "SELECT * FROM product ORDER BY id") == STATE["catalogue"]
    assert sequences(database) == STATE["sequences"]
    insert = text("INSERT INTO staff_user (name, password_hash, created_at) VALUES ('mallory', 'x', now())")
    open_connection, engine = STATE["leaked_connection"], STATE["leaked"]
    for attempt in (lambda: open_connection.execute(insert), lambda: engine.connect().execute(insert)):
        try:
            attempt()
        except OperationalError:
            continue
        raise AssertionError("a connection of the last test reached a database")
    assert counts(database)["staff_user"] == 0


def test_3_changes_the_schema(database):
    STATE["columns"] = product_columns(database)
    STATE["tables"] = tables(database)
    engine = create_engine(database)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE product ADD COLUMN colour text"))
        conn.execute(text("CREATE TABLE extra (id integer)"))
        conn.execute(text("DROP TABLE signing_key_check"))
    engine.dispose()


def test_4_has_the_template_schema_again(database):
    assert product_columns(database) == STATE["columns"]
    assert tables(database) == STATE["tables"]
    assert counts(database) == STATE["counts"]
"""


def test_a_test_finds_no_row_sequence_step_or_schema_change_of_the_test_before_it(tmp_path):
    (tmp_path / "test_in_order.py").write_text(THROWAWAY)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(tmp_path),
            "-p",
            "tests.conftest",
            "-c",
            str(ROOT / "pyproject.toml"),
            "--rootdir",
            str(tmp_path),
            "-n",
            "0",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rA",
            "--databases",
            "postgresql",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    passed = [line for line in result.stdout.splitlines() if line.startswith("PASSED")]
    assert len(passed) == 4, result.stdout
