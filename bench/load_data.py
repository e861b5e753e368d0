"""Fill a database with many visits and submissions, fast, for measuring how cost grows with the data.

The schema is built as the suite builds it (every migration, then the
catalogue); then ``--visits`` visit rows and ``--submissions`` submissions
are written in bulk: ``executemany`` in large batches on SQLite, ``COPY`` on
PostgreSQL (psycopg 3). The spread is meant to look like a shop's:

- visits over the last ``--days`` days, from many visitor ids (about one per
  20 visits, a few browsers far busier than most) in sessions of about
  :data:`SESSION_PAGES` pages in a row, each session from one of its
  browser's one to three addresses of a pool (one address per 50 visits, so
  several browsers share one) with confirmed and unconfirmed host names, 5 %
  with a blocking signal (no IP, domain or visitor id), staff pages, the
  chat's polling, cart adds, checkouts and the odd 404;
- one browser, :data:`FIFTY_VISITS_ID`, with exactly 50 visits and two
  submissions, for "your data" and the visitor profile;
- submissions of every form kind with the fields each form stores, linked
  to the visitors and addresses above, some opted out, some proven.

    .venv/bin/python bench/load_data.py sqlite:////tmp/big.sqlite3 --instance /tmp/big-instance
    .venv/bin/python bench/load_data.py postgresql+psycopg://postgres@127.0.0.1:5432/big --visits 10000

Once loaded, every finished day is archived into the dashboard's daily
figures with ``flask visits archive``, as an operator's nightly job (the
purge, or the archive command alone) leaves a shop's database, and today up to
the start of the hour. ``--no-archive`` leaves the archive empty.

The apps that serve the database must use the instance folder it was built
with (``--instance``): the database records the fingerprints of the keys
generated there (webshop/signing_keys.py).
"""

import argparse
import gc
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from tests.support.apps import TEST_KEY, build_schema  # noqa: E402
from webshop import create_app  # noqa: E402
from webshop.db import db  # noqa: E402

FIFTY_VISITS_ID = "bench-browser-with-fifty-visits"
FIFTY_VISITS_IP = "198.51.100.50"
BATCH = 50_000
# Pages a browser views in one session, on average: its visits come in runs, not one a day.
SESSION_PAGES = 5
VISIT_COLUMNS = (
    "uid", "time", "ip", "domain", "domain_confirmed", "method", "path", "query", "protocol", "status",
    "response_bytes", "response_ms", "user_agent", "referrer", "visitor_id", "blocking_signal",
)
SUBMISSION_COLUMNS = (
    "receipt_id", "kind", "created_at", "email", "name", "fields", "no_marketing", "no_share",
    "blocking_signal", "ip", "domain", "domain_confirmed", "visitor_id", "policy_version", "proven_at",
    "receipt_document",
)
USER_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Version/18.1 Mobile Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 Version/18.1 Safari/605.1.15",
)
REFERRERS = (None, None, None, "https://duckduckgo.com/", "https://www.example.com/review")
FIRST_NAMES = ("Ana", "Ben", "Chloe", "Dev", "Emre", "Fatima", "Gus", "Hana", "Ivo", "Jana")
TOPICS = ("new-products", "offers", "guides", "site-updates")
SHOPPED_FOR = ("phones", "laptops", "audio", "cameras", "accessories")
FOUND_US = ("search", "friend", "ad", "other")


@dataclass(frozen=True)
class Loaded:
    """What a loaded database holds, for the measurements that use it."""

    uri: str
    visits: int
    submissions: int
    seconds: float
    fifty_visits_id: str = FIFTY_VISITS_ID


def stored_time(when: datetime) -> str:
    """A time as SQLAlchemy stores a DateTime on SQLite."""
    return when.strftime("%Y-%m-%d %H:%M:%S.%f")


class Spread:
    """The pools rows are drawn from, sized to the number of visits."""

    def __init__(self, visits: int, days: int, slugs: list[str], categories: list[str], seed: int):
        self.random = random.Random(seed)
        self.now = datetime.now(UTC).replace(tzinfo=None)
        self.span = days * 86400
        self.visitors = [f"v{n:08x}{self.random.getrandbits(64):016x}" for n in range(max(visits // 20, 10))]
        # Some browsers are far busier than others: a visitor's weight follows a Pareto law.
        self.visitor_weights = [self.random.paretovariate(1.5) for _ in self.visitors]
        self.ips = [self._address() for _ in range(max(visits // 50, 20))]
        # A browser comes from a few addresses (home, work, phone), each shared with a few other browsers.
        self.visitor_ips = {v: self.random.sample(self.ips, self.random.randint(1, 3)) for v in self.visitors}
        self.domains = {ip: (f"host-{n}.{self.random.choice(('example.net', 'example.org', 'isp.test'))}",
                             self.random.random() < 0.7)
                        for n, ip in enumerate(self.ips) if self.random.random() < 0.4}
        self.pages = (
            [("GET", "/", 200)] * 20
            + [("GET", f"/product/{slug}", 200) for slug in slugs] * 4
            + [("GET", f"/category/{slug}", 200) for slug in categories] * 2
            + [("GET", "/privacy", 200)] * 3
            + [("GET", "/search", 200), ("GET", "/cart", 200), ("GET", "/checkout", 200)] * 2
            + [("POST", "/cart/add", 303)] * 4
            + [("GET", "/chat/messages", 200)] * 4
            + [("GET", "/admin/", 200), ("GET", "/admin/visits", 200), ("GET", "/no-such-page", 404)]
            + [("GET", "/newsletter", 200), ("GET", "/survey", 200), ("GET", "/board", 200), ("GET", "/my-data", 200)]
        )

    def _address(self) -> str:
        r = self.random
        if r.random() < 0.1:
            return f"2001:db8:{r.randrange(65536):x}:{r.randrange(65536):x}::{r.randrange(1, 65536):x}"
        return f"{r.choice((192, 198, 203, 100))}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"

    def time(self, n: int, count: int) -> datetime:
        """The time of the ``n``-th of ``count`` rows spread over the span, oldest first, as a shop stores them."""
        return self.now - timedelta(seconds=self.span * (1 - (n + self.random.random()) / count))

    def visit_rows(self, count: int):
        """``count`` visit rows as tuples in :data:`VISIT_COLUMNS` order, oldest first."""
        r = self.random
        visitors = iter(r.choices(self.visitors, weights=self.visitor_weights, k=count))
        pages = r.choices(self.pages, k=count)
        left = 0
        for n, (method, path, status) in enumerate(pages):
            if not left:  # a new session: a browser, one of its addresses, and how many pages it views
                visitor = next(visitors)
                ip = r.choice(self.visitor_ips[visitor])
                left = 1 + int(r.expovariate(1 / (SESSION_PAGES - 1)))
            left -= 1
            blocking = r.random() < 0.05
            domain, confirmed = self.domains.get(ip, (None, False))
            yield (
                os.urandom(16).hex(), self.time(n, count),
                None if blocking else ip, None if blocking else domain, confirmed and not blocking,
                method, path, "", "HTTP/1.1", status, r.randrange(800, 40_000), round(r.uniform(2, 60), 2),
                r.choice(USER_AGENTS), r.choice(REFERRERS), None if blocking else visitor, blocking,
            )

    def fifty_visits(self):
        """The 50 visits of :data:`FIFTY_VISITS_ID`, from one address."""
        for n in range(50):
            method, path, status = self.pages[n % len(self.pages)]
            yield (
                os.urandom(16).hex(), self.now - timedelta(days=n % 80, minutes=n), FIFTY_VISITS_IP, None, False,
                method, path, "", "HTTP/1.1", status, 4000, 5.0, USER_AGENTS[0], None, FIFTY_VISITS_ID, False,
            )

    def fields(self, kind: str, name: str, email: str) -> dict:
        r = self.random
        if kind == "newsletter":
            return {"topics": r.sample(TOPICS, r.randrange(1, 4))}
        if kind == "survey":
            return {"rating": r.randrange(1, 6), "shopped_for": r.sample(SHOPPED_FOR, r.randrange(0, 3)),
                    "found_us": r.choice(FOUND_US), "improve": ""}
        if kind == "registration":
            return {"name": name, "product": "Pixel phone", "serial_number": f"SN{r.randrange(10**8):08d}",
                    "purchase_date": (self.now - timedelta(days=r.randrange(400))).date().isoformat()}
        if kind == "order":
            return {"address": f"{r.randrange(1, 200)} Long Street, Sometown",
                    "order_number": f"WS-{r.getrandbits(40):X}"}
        if kind == "contact":
            return {"name": name, "subject": "A question", "message": "Do you ship to the islands?"}
        return {"display_name": name, "message": "Has anyone tried the new earbuds?"}  # board, chat

    def submission_rows(self, count: int, first: int, visitor: str | None = None, ip: str | None = None):
        """``count`` submissions in :data:`SUBMISSION_COLUMNS` order (``fields`` as a dict), oldest first."""
        r = self.random
        kinds = ("newsletter", "survey", "registration", "order", "contact", "board", "chat")
        for n in range(first, first + count):
            kind = kinds[n % len(kinds)]
            name = f"{r.choice(FIRST_NAMES)} {n}"
            email = f"person{r.randrange(max(count // 2, 1) + first)}@example.org"
            blocking = r.random() < 0.05
            address = ip or r.choice(self.ips)
            domain, confirmed = self.domains.get(address, (None, False))
            created = self.time(n - first, count)
            receipt_id = str(uuid.UUID(int=r.getrandbits(128), version=4))
            yield (
                receipt_id, kind, created, email, name, self.fields(kind, name, email),
                r.random() < 0.2, blocking or r.random() < 0.25, blocking,
                None if blocking else address, None if blocking else domain, confirmed and not blocking,
                None if blocking else (visitor or r.choice(self.visitors)), "2026-11",
                created if r.random() < 0.5 else None,
                json.dumps({"version": "KI-CR-v1.1.0", "consentReceiptID": receipt_id, "service": kind}),
            )


def batches(rows, size: int = BATCH):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def sqlite_row(row: tuple) -> tuple:
    return tuple(
        stored_time(v) if isinstance(v, datetime) else json.dumps(v) if isinstance(v, dict) else v for v in row
    )


def insert_sqlite(path: str, spread: Spread, visits: int, submissions: int) -> None:
    connection = sqlite3.connect(path)
    # A bulk load into a new file: no journal, and a cache that holds the indexes; WAL again afterwards.
    connection.execute("PRAGMA journal_mode=OFF")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA cache_size=-400000")
    visit_sql = f"INSERT INTO visit ({', '.join(VISIT_COLUMNS)}) VALUES ({', '.join('?' * len(VISIT_COLUMNS))})"
    submission_sql = (
        f"INSERT INTO submission ({', '.join(SUBMISSION_COLUMNS)})"
        f" VALUES ({', '.join('?' * len(SUBMISSION_COLUMNS))})"
    )
    with connection:
        connection.executemany(visit_sql, map(sqlite_row, spread.fifty_visits()))
        connection.executemany(
            submission_sql, map(sqlite_row, spread.submission_rows(2, 0, FIFTY_VISITS_ID, FIFTY_VISITS_IP))
        )
    for batch in batches(spread.visit_rows(max(visits - 50, 0))):
        with connection:
            connection.executemany(visit_sql, map(sqlite_row, batch))
    for batch in batches(spread.submission_rows(max(submissions - 2, 0), 2)):
        with connection:
            connection.executemany(submission_sql, map(sqlite_row, batch))
    connection.execute("PRAGMA journal_mode=WAL")
    connection.close()


def insert_postgresql(uri: str, spread: Spread, visits: int, submissions: int) -> None:
    import psycopg
    from psycopg.types.json import Jsonb

    def copy(cursor, table, columns, rows):
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as out:
            for row in rows:
                out.write_row(row)

    def with_json(rows):
        for row in rows:
            yield tuple(Jsonb(v) if isinstance(v, dict) else v for v in row)

    with psycopg.connect(uri.replace("postgresql+psycopg://", "postgresql://", 1)) as connection:
        with connection.cursor() as cursor:
            copy(cursor, "visit", VISIT_COLUMNS, spread.fifty_visits())
            copy(cursor, "visit", VISIT_COLUMNS, spread.visit_rows(max(visits - 50, 0)))
            copy(cursor, "submission", SUBMISSION_COLUMNS,
                 with_json(spread.submission_rows(2, 0, FIFTY_VISITS_ID, FIFTY_VISITS_IP)))
            copy(cursor, "submission", SUBMISSION_COLUMNS,
                 with_json(spread.submission_rows(max(submissions - 2, 0), 2)))
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE visit")
        connection.execute("VACUUM ANALYZE submission")


def catalogue_slugs(uri: str) -> tuple[list[str], list[str]]:
    engine = create_engine(uri)
    with engine.connect() as conn:
        products = conn.execute(text("SELECT slug FROM product WHERE active")).scalars().all()
        categories = conn.execute(text("SELECT slug FROM category")).scalars().all()
    engine.dispose()
    return list(products), list(categories)


def archive(uri: str, instance: Path) -> str:
    """Archive every finished day as the nightly job does: ``flask visits archive``; what it said."""
    app = create_app({"SECRET_KEY": TEST_KEY, "SQLALCHEMY_DATABASE_URI": uri, "RDNS_ENABLED": False,
                      "VISITS_ENABLED": False, "LOG_LEVEL": "WARNING"}, instance_path=str(instance))
    result = app.test_cli_runner().invoke(args=["visits", "archive"])
    with app.app_context():
        db.engine.dispose()
    if result.exit_code != 0:
        raise RuntimeError(f"flask visits archive failed: {result.output}")
    return result.output.strip()


def load(uri: str, instance: Path, visits: int = 1_000_000, submissions: int = 100_000, *, days: int = 90,
         seed: int = 1, archived: bool = True) -> Loaded:
    """Build the schema at ``uri`` (an empty database), fill it and, if ``archived``, archive its finished days;
    what was loaded and how long it took (the archive included).

    ``instance`` is the instance folder of the app that builds it: the apps that serve the database later
    use the same one, since the database records the fingerprints of the keys generated there.
    """
    started = time.monotonic()
    build_schema(uri, instance)
    gc.collect()  # the app's last connection closes with it: the load needs the file to itself
    spread = Spread(visits, days, *catalogue_slugs(uri), seed=seed)
    if uri.startswith("sqlite"):
        insert_sqlite(uri.removeprefix("sqlite:///"), spread, visits, submissions)
    else:
        insert_postgresql(uri, spread, visits, submissions)
    if archived:
        archive_started = time.monotonic()
        said = archive(uri, instance)
        print(f"{said} ({time.monotonic() - archive_started:.1f} s)", flush=True)
    return Loaded(uri, max(visits, 50), max(submissions, 2), time.monotonic() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("uri", help="sqlite:///path (a new file) or a PostgreSQL URL (an empty database)")
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90, help="the visits spread over this many days (default 90)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-archive", action="store_true", help="leave the dashboard's daily figures empty")
    parser.add_argument(
        "--instance", type=Path, default=None,
        help="the instance folder of the apps that will serve it (default: a new temporary folder, printed)",
    )
    args = parser.parse_args()
    if args.uri.startswith("sqlite:///") and Path(args.uri.removeprefix("sqlite:///")).exists():
        sys.exit(f"{args.uri} exists: give a new file")
    instance = args.instance or Path(tempfile.mkdtemp(prefix="webshop-load-"))
    loaded = load(args.uri, instance, args.visits, args.submissions, days=args.days, seed=args.seed,
                  archived=not args.no_archive)
    print(f"instance folder: {instance}")
    print(f"{loaded.visits:,} visits and {loaded.submissions:,} submissions in {loaded.seconds:.1f} s; "
          f"the browser with 50 visits: {loaded.fifty_visits_id}")


if __name__ == "__main__":
    main()
