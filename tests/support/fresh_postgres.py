"""A fresh PostgreSQL database for every test, without copying the template for each one.

``CREATE DATABASE … TEMPLATE`` copies every file of the template, its system
catalogue included (about 9 MB), and ``DROP DATABASE`` deletes them again.
Instead, each pytest worker keeps one database and, after every test, puts it
back to the template's state:

1. every connection to it is ended and it is renamed, so a client a test left
   behind cannot reach the next test's database by the name it knew (it fails
   as it would on a dropped database), and every test gets a name of its own;
2. every row is deleted, the template's rows (the seeded catalogue,
   ``alembic_version``) are copied back and every sequence is set back where
   the template has it, so ids start where they start on a new copy;
3. its schema is compared with the template's: tables, columns, defaults,
   constraints, indexes, triggers, views, sequences' settings, functions,
   types, schemas, extensions, privileges and the database's own settings. A
   test that changed any of them (a migration, a dropped table) has its
   database dropped, and the next test gets a new copy of the template.
"""

import time
import uuid

import psycopg
from psycopg import sql

SYSTEM_SCHEMAS = "('pg_catalog', 'information_schema', 'pg_toast')"

# One line per schema object a test could change; the md5 of all of them is compared with the template's.
SCHEMA_FINGERPRINT = f"""
WITH user_ns AS (
    SELECT oid, nspname, nspacl FROM pg_namespace
    WHERE nspname NOT IN {SYSTEM_SCHEMAS} AND nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%'
), line(line) AS (
    SELECT concat_ws(' ', 'schema', nspname, nspacl) FROM user_ns
    UNION ALL
    SELECT concat_ws(' ', 'relation', c.oid::regclass, c.relkind, c.relacl, c.reloptions, c.relpersistence,
        c.relrowsecurity)
    FROM pg_class c JOIN user_ns u ON u.oid = c.relnamespace
    UNION ALL
    SELECT concat_ws(' ', 'column', a.attrelid::regclass, a.attname, a.attnum, format_type(a.atttypid, a.atttypmod),
        a.attnotnull, a.attidentity, a.attgenerated, a.attcollation, pg_get_expr(d.adbin, d.adrelid))
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid JOIN user_ns u ON u.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT concat_ws(' ', 'constraint', conrelid::regclass, conname, pg_get_constraintdef(oid))
    FROM pg_constraint WHERE connamespace IN (SELECT oid FROM user_ns)
    UNION ALL
    SELECT concat_ws(' ', 'index', pg_get_indexdef(i.indexrelid))
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN user_ns u ON u.oid = c.relnamespace
    UNION ALL
    SELECT concat_ws(' ', 'trigger', pg_get_triggerdef(t.oid), t.tgenabled)
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN user_ns u ON u.oid = c.relnamespace
    WHERE NOT t.tgisinternal
    UNION ALL
    SELECT concat_ws(' ', 'rule', r.rulename, pg_get_ruledef(r.oid))
    FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN user_ns u ON u.oid = c.relnamespace
    UNION ALL
    SELECT concat_ws(' ', 'policy', polname, polrelid::regclass) FROM pg_policy
    UNION ALL
    SELECT concat_ws(' ', 'sequence', seqrelid::regclass, seqtypid, seqstart, seqincrement, seqmax, seqmin, seqcache,
        seqcycle)
    FROM pg_sequence
    UNION ALL
    SELECT concat_ws(' ', 'function', p.oid::regprocedure, md5(pg_get_functiondef(p.oid)))
    FROM pg_proc p JOIN user_ns u ON u.oid = p.pronamespace WHERE p.prokind <> 'a'
    UNION ALL
    SELECT concat_ws(' ', 'type', t.oid::regtype, t.typtype,
        (SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = t.oid))
    FROM pg_type t JOIN user_ns u ON u.oid = t.typnamespace
    UNION ALL
    SELECT concat_ws(' ', 'extension', extname, extversion) FROM pg_extension
    UNION ALL
    SELECT concat_ws(' ', 'event trigger', evtname) FROM pg_event_trigger
    UNION ALL
    SELECT concat_ws(' ', 'large objects', count(*)) FROM pg_largeobject_metadata
    UNION ALL
    SELECT concat_ws(' ', 'setting', setrole, setconfig) FROM pg_db_role_setting
    WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
    UNION ALL
    SELECT concat_ws(' ', 'database', datallowconn, datconnlimit, datacl) FROM pg_database
    WHERE datname = current_database()
)
SELECT md5(string_agg(line, E'\\n' ORDER BY line)) FROM line
"""

USER_TABLES = f"""
SELECT c.oid::regclass::text, array_agg(quote_ident(a.attname) ORDER BY a.attnum)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN {SYSTEM_SCHEMAS}
GROUP BY c.oid ORDER BY 1
"""

USER_SEQUENCES = f"""
SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S' AND n.nspname NOT IN {SYSTEM_SCHEMAS} ORDER BY 1
"""


class Snapshot:
    """What a database made from the template holds: its rows, its sequences' positions, its schema's fingerprint."""

    def __init__(self, conn: psycopg.Connection):
        self.fingerprint = conn.execute(SCHEMA_FINGERPRINT).fetchone()[0]
        self.tables = conn.execute(USER_TABLES).fetchall()
        self.rows = {}  # table -> (columns, COPY text); only the tables that have rows
        for table, columns in self.tables:
            column_list = ", ".join(columns)
            with conn.cursor().copy(f"COPY {table} ({column_list}) TO STDOUT") as copy:
                data = b"".join(bytes(block) for block in copy)
            if data:
                self.rows[table] = (column_list, data)
        positions = []
        for (sequence,) in conn.execute(USER_SEQUENCES).fetchall():
            last_value, is_called = conn.execute(f"SELECT last_value, is_called FROM {sequence}").fetchone()
            values = (sql.Literal(value) for value in (sequence, last_value, is_called))
            positions.append(sql.SQL("SELECT setval({}, {}, {})").format(*values))
        deletes = [sql.SQL(f"DELETE FROM {table}") for table, _columns in self.tables]  # names as regclass quotes them
        self.reset_sql = sql.SQL("; ").join(
            [sql.SQL("SET LOCAL session_replication_role = replica"), *deletes, *positions]
        )

    def restore(self, conn: psycopg.Connection):
        """Delete every row, copy the template's back, set every sequence back; one transaction."""
        with conn.transaction():
            conn.execute(self.reset_sql)
            for table, (column_list, data) in self.rows.items():
                with conn.cursor().copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
                    copy.write(data)


class FreshDatabases:
    """Hands each test a database in the template's state; one database at a time, kept between tests."""

    def __init__(self, server, template: str):
        self.server = server
        self.template = template
        self.name = None  # the database the current or next test gets, once made
        self.snapshot = None

    def checkout(self) -> str:
        """The URL of a database in the template's state, with a name no earlier test had."""
        if self.name is None:
            name = new_name()
            self.server.admin(f"CREATE DATABASE {name} TEMPLATE {self.template}")
            self.name = name
            if self.snapshot is None:
                with self.connect(name) as conn:
                    self.snapshot = Snapshot(conn)
        return self.server.url(self.name)

    def release(self):
        """After a test: rename its database and put it back, or drop it if its schema was changed."""
        old, self.name = self.name, None
        if old is None:
            return
        new = new_name()
        try:
            end_connections(self.server, old)
            self.server.admin(f"ALTER DATABASE {old} RENAME TO {new}")
            old = new
            with self.connect(new) as conn:
                if conn.execute(SCHEMA_FINGERPRINT).fetchone()[0] != self.snapshot.fingerprint:
                    raise SchemaChanged
                self.snapshot.restore(conn)
        except BaseException as error:
            self.server.admin(f"DROP DATABASE IF EXISTS {old} WITH (FORCE)")
            if not isinstance(error, SchemaChanged):
                raise
        else:
            self.name = new

    def remove(self):
        if self.name is not None:
            self.server.admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
            self.name = None

    def connect(self, database: str) -> psycopg.Connection:
        return psycopg.connect(self.server.conninfo(database), autocommit=True)


class SchemaChanged(Exception):
    """The test changed the database's schema: it cannot be put back by rows alone."""


def new_name() -> str:
    return "t_" + uuid.uuid4().hex[:12]


def end_connections(server, database: str, timeout: float = 10):
    """Terminate every session on ``database`` and wait until they are gone (a rename refuses while any is)."""
    deadline = time.monotonic() + timeout
    ending = f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{database}'"
    while left := server.admin(ending)[0][0]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{left} sessions on {database} did not end")
        time.sleep(0.005)
