"""Soak the shop: a mixed workload against a real gunicorn, then check nothing was lost.

Several client threads act as visitors, each bound to its own loopback
source address (127.0.<client>.<n>) with its own cookies: they browse
(home, category, product, search, policy), change their cart, fill in every
personal-information form (newsletter, survey, product registration,
contact, board, chat with polling, checkout), and use "your data" (the page
and a link request). CSRF tokens and each form's single-use token are taken
from the pages, as a browser does; a form whose post got a 502 or no answer
is sent again once with the same body, as a browser does. Some visitors
accept on the consent banner; some send ``Sec-GPC: 1``.

Afterwards, with the server stopped gracefully:

- every answered request of a recorded kind has its row in ``visit``
  (static files and ``/healthz`` are not recorded, so they are not counted);
- every accepted submission (its consent-receipt id or order number) is in
  the database, and the database holds no other: each form filled in is
  stored exactly once, even when it was sent twice;
- no answer was a 5xx;
- worker memory (VmRSS) at start and end, per worker.

On one host, rate limiting is switched off (``RATELIMIT_ENABLED=false``): a
soak is not abuse, and its visitors post far faster than a person.

    .venv/bin/python bench/soak.py --database sqlite|postgresql --seconds 60 --clients 6
    .venv/bin/python bench/soak.py --hosts 2 --workers 2 --seconds 60 --clients 6

With ``--hosts 2`` the same workload goes through nginx to two hosts on one
PostgreSQL and one Redis (tests/support/two_hosts.py), with every rate limit
on and counted in Redis, and the checks cover both hosts' workers and logs.
"""

import argparse
import http.client
import itertools
import json
import random
import re
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from tests.support.gunicorn import GunicornServer  # noqa: E402
from tests.support.nginx import HOST  # noqa: E402
from tests.support.redis import RedisServer  # noqa: E402
from tests.support.two_hosts import TwoHosts, shared_settings  # noqa: E402

NOT_RECORDED_PREFIXES = ("/static/", "/healthz")
REQUEST_TIMEOUT = 30
WARM_UP_SECONDS = 3
ACTIONS_PER_VISITOR = 25  # then the thread becomes a new visitor (new address, no cookies)
RECEIPT_RE = re.compile(r"/thanks/([0-9a-f-]{36})$")
ORDER_RE = re.compile(r"/order/([A-Z0-9-]+)$")
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
SUBMISSION_TOKEN_RE = re.compile(r'name="submission_token"[^>]*value="([^"]+)"')
FORM_KINDS = ("newsletter", "survey", "registration", "contact", "board", "chat", "order")


def server_settings(database_uri: str) -> dict:
    """FLASK_* settings of a soak server."""
    return {
        "SECRET_KEY": "soak-only-key",
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "RDNS_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "LOG_LEVEL": "WARNING",
    }


# --- What the clients saw ---------------------------------------------------------------------


@dataclass
class Tally:
    """Everything the clients sent and got back; shared by all client threads."""

    sent: int = 0
    answered: int = 0  # any HTTP answer
    answered_recorded: int = 0  # answers to requests the shop records as visits
    failed: int = 0  # no HTTP answer (connection refused or reset, timeout)
    cut_off: list = field(default_factory=list)  # monotonic times of answers whose body stopped short
    failures: Counter = field(default_factory=Counter)  # "METHOD path: error" -> times, for the report
    statuses: Counter = field(default_factory=Counter)
    receipts: dict = field(default_factory=dict)  # receipt id -> form kind
    orders: set = field(default_factory=set)
    flows: Counter = field(default_factory=Counter)  # flow name -> completed
    flows_broken: Counter = field(default_factory=Counter)  # flow name -> ended early
    events: list = field(default_factory=list)  # (monotonic time, method, path, status or None)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(
        self, method: str, path: str, status: int | None, error: BaseException | None = None, cut_off=False
    ) -> None:
        """One request and its answer; ``cut_off``: the answer began (its status line came) but its body
        stopped short, as when the worker sending it is killed halfway."""
        recorded = not path.startswith(NOT_RECORDED_PREFIXES)
        with self.lock:
            self.sent += 1
            now = time.monotonic()
            self.events.append((now, method, path, status))
            if status is None:
                self.failed += 1
                self.failures[f"{method} {path}: {error!r}"] += 1
                return
            if cut_off:
                self.cut_off.append(now)
                self.failures[f"{method} {path}: {status}, cut off: {error!r}"] += 1
            self.answered += 1
            self.answered_recorded += recorded
            self.statuses[status] += 1

    def accept(self, kind: str, receipt_id: str | None = None, order: str | None = None) -> None:
        with self.lock:
            if receipt_id:
                self.receipts[receipt_id] = kind
            if order:
                self.orders.add(order)

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    def between(self, start: float, end: float) -> list[tuple]:
        with self.lock:
            return [event for event in self.events if start <= event[0] < end]


class FlowBroken(Exception):
    """A step got an answer the flow cannot go on from (counted, then the next flow starts)."""


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str:
        return urllib.parse.urlsplit(self.headers.get("Location", "")).path

    def csrf_token(self) -> str:
        match = CSRF_RE.search(self.text)
        if not match:
            raise FlowBroken("no CSRF token on the page")
        return match.group(1) or match.group(2)

    def form_tokens(self) -> dict:
        """What a browser sends back with the page's personal-information form: its CSRF and single-use tokens."""
        match = SUBMISSION_TOKEN_RE.search(self.text)
        if not match:
            raise FlowBroken("no submission token on the form")
        return {"csrf_token": self.csrf_token(), "submission_token": match.group(1)}


class Browser:
    """One visitor: a source address, a cookie jar, and optionally a blocking signal."""

    def __init__(self, host: str, port: int, source: str, tally: Tally, gpc: bool = False, name: str | None = None):
        self.host = host
        self.port = port
        self.source = source
        self.tally = tally
        self.gpc = gpc
        self.name = name  # the Host header, when ``host`` is a proxy serving that name
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, fields: dict | None = None, headers: dict | None = None) -> Answer:
        """Send one request (a new connection, as gunicorn's sync workers close each one)."""
        headers = {"User-Agent": "webshop-soak/1", **(headers or {})}
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if self.gpc:
            headers["Sec-GPC"] = "1"
        if self.name:
            headers["Host"] = self.name
        connection = http.client.HTTPConnection(
            self.host, self.port, timeout=REQUEST_TIMEOUT, source_address=(self.source, 0)
        )
        try:
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
            except (OSError, http.client.HTTPException) as error:
                self.tally.note(method, path, None, error)
                raise FlowBroken(f"{method} {path}: no answer") from None
            try:
                answer = Answer(response.status, response.headers, response.read())
            except (OSError, http.client.HTTPException) as error:
                self.tally.note(method, path, response.status, error, cut_off=True)
                raise FlowBroken(f"{method} {path}: {response.status}, cut off") from None
        finally:
            connection.close()
        self.tally.note(method, path, answer.status)
        self.keep_cookies(answer.headers.get_all("Set-Cookie") or [])
        return answer

    def keep_cookies(self, set_cookies: list[str]) -> None:
        for header in set_cookies:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or "1970" in morsel["expires"]:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.coded_value

    def get(self, path: str, expect: int = 200, **kwargs) -> Answer:
        answer = self.request("GET", path, **kwargs)
        if answer.status != expect:
            raise FlowBroken(f"GET {path}: {answer.status}")
        return answer

    def post(self, path: str, fields: dict, expect: int = 303, **kwargs) -> Answer:
        answer = self.request("POST", path, fields, **kwargs)
        if answer.status != expect:
            raise FlowBroken(f"POST {path}: {answer.status}")
        return answer

    def send_form(self, path: str, fields: dict, expect: tuple[int, ...] = (303,), **kwargs) -> Answer:
        """Post a filled-in form; after a 502 or no answer, send the same body once more, as a browser does.

        The shop stores a form once however often it comes (its single-use
        token), so the second answer is the first submission's if it was stored.
        """
        try:
            answer = self.request("POST", path, fields, **kwargs)
        except FlowBroken:  # no answer: connection refused or reset on the way
            answer = None
        if answer is None or answer.status == 502:
            answer = self.request("POST", path, fields, **kwargs)
        if answer.status not in expect:
            raise FlowBroken(f"POST {path}: {answer.status}")
        return answer

    def follow(self, answer: Answer) -> Answer:
        """Go where a 303 points, as a browser does."""
        target = answer.headers.get("Location", "")
        parts = urllib.parse.urlsplit(target)
        return self.get(parts.path + (f"?{parts.query}" if parts.query else ""))


# --- The workload -----------------------------------------------------------------------------


@dataclass
class Catalogue:
    products: list[tuple[int, str]]  # (id, slug) of active products
    categories: list[str]
    words: list[str]

    @classmethod
    def load(cls, database_uri: str) -> "Catalogue":
        engine = create_engine(database_uri)
        with engine.connect() as conn:
            products = [tuple(row) for row in conn.execute(text("SELECT id, slug FROM product WHERE active"))]
            categories = [row[0] for row in conn.execute(text("SELECT slug FROM category"))]
            names = [row[0] for row in conn.execute(text("SELECT name FROM product"))]
        engine.dispose()
        words = sorted({word.lower() for name in names for word in re.findall(r"[A-Za-z]{4,}", name)})
        return cls(products, categories, words + ["zzz-nothing"])


class Visitor:
    """What one client thread does: flows of requests, as a person would click through."""

    def __init__(
        self, client: int, host: str, port: int, tally: Tally, catalogue: Catalogue, seed: int, name: str | None = None
    ):
        self.name = name
        self.client = client
        self.host = host
        self.port = port
        self.tally = tally
        self.catalogue = catalogue
        self.rng = random.Random(seed)
        self.visitors = 0
        self.actions = 0
        self.submissions = 0
        self.last_chat_id = 0
        self.browser = None

    def new_visitor(self) -> None:
        self.visitors += 1
        source = f"127.0.{self.client + 1}.{(self.visitors % 250) + 2}"
        self.browser = Browser(self.host, self.port, source, self.tally, gpc=self.rng.random() < 0.15, name=self.name)
        self.actions = 0
        if not self.browser.gpc and self.rng.random() < 0.7:
            page = self.browser.get("/privacy")
            answer = self.browser.post(
                "/consent", {"csrf_token": page.csrf_token(), "choice": "accept", "next": "/privacy"}
            )
            self.browser.follow(answer)

    def email(self) -> str:
        self.submissions += 1
        return f"soak{self.client}.{self.visitors}.{self.submissions}@example.org"

    def product(self) -> tuple[int, str]:
        return self.rng.choice(self.catalogue.products)

    # -- flows --

    def browse(self) -> None:
        b = self.browser
        choice = self.rng.randrange(7)
        if choice == 0:
            b.get("/")
        elif choice == 1:
            b.get(f"/category/{self.rng.choice(self.catalogue.categories)}")
        elif choice == 2:
            b.get(f"/product/{self.product()[1]}")
        elif choice == 3:
            b.get("/search?" + urllib.parse.urlencode({"q": self.rng.choice(self.catalogue.words)}))
        elif choice == 4:
            b.get("/privacy")
        elif choice == 5:
            b.get("/.well-known/gpc.json")
        else:
            b.get("/static/shop.css")  # not recorded as a visit

    def add_to_cart(self) -> None:
        product_id, slug = self.product()
        page = self.browser.get(f"/product/{slug}")
        answer = self.browser.post(
            "/cart/add",
            {"csrf_token": page.csrf_token(), "product_id": product_id, "quantity": self.rng.randint(1, 3)},
        )
        self.browser.follow(answer)

    def cart(self) -> None:
        self.add_to_cart()
        b = self.browser
        page = b.get("/cart")
        ids = [int(found) for found in re.findall(r'name="product_id"[^>]*value="(\d+)"', page.text)]
        if not ids:
            raise FlowBroken("cart page lists nothing after an add")
        token = page.csrf_token()
        if self.rng.random() < 0.5:
            answer = b.post(
                "/cart/update",
                {"csrf_token": token, "product_id": self.rng.choice(ids), "quantity": self.rng.randint(1, 5)},
            )
        else:
            answer = b.post("/cart/remove", {"csrf_token": token, "product_id": self.rng.choice(ids)})
        b.follow(answer)

    def submit(self, kind: str, path: str, fields: dict) -> None:
        """Fill in a form, send it, and note its receipt from the confirmation address."""
        b = self.browser
        page = b.get(path)
        fields = {**page.form_tokens(), **fields}
        if self.rng.random() < 0.3:
            fields[self.rng.choice(["no_marketing", "no_share"])] = "y"
        answer = b.send_form(path, fields)
        receipt = RECEIPT_RE.search(answer.location)
        order = ORDER_RE.search(answer.location)
        if not receipt and not order:
            raise FlowBroken(f"POST {path} accepted without a receipt: {answer.location}")
        self.tally.accept(kind, receipt_id=receipt and receipt.group(1), order=order and order.group(1))
        b.follow(answer)

    def newsletter(self) -> None:
        topics = self.rng.sample(["offers", "guides"], self.rng.randint(1, 2))
        self.submit("newsletter", "/newsletter", {"email": self.email(), "topics": topics})

    def survey(self) -> None:
        self.submit(
            "survey",
            "/survey",
            {
                "rating": str(self.rng.randint(1, 5)),
                "shopped_for": ["audio", "cameras"],
                "found_us": "friend",
                "improve": "More cables in stock.",
                "email": self.email(),
            },
        )

    def registration(self) -> None:
        self.submit(
            "registration",
            "/register",
            {
                "product": str(self.product()[0]),
                "serial_number": f"SN-{self.rng.randrange(10**8):08d}",
                "purchase_date": time.strftime("%Y-%m-%d", time.gmtime(time.time() - 30 * 86400)),
                "name": "Soak Visitor",
                "email": self.email(),
            },
        )

    def contact(self) -> None:
        self.submit(
            "contact",
            "/contact",
            {"name": "Soak Visitor", "email": self.email(), "subject": "A question", "message": "Do you ship?"},
        )

    def board(self) -> None:
        self.submit(
            "board",
            "/board",
            {"display_name": f"Soak {self.client}", "email": self.email(), "message": "Great shop!"},
        )

    def chat(self) -> None:
        """Post as chat.js does (in the background, JSON back), then poll for new messages."""
        b = self.browser
        page = b.get("/chat")
        fields = {**page.form_tokens(), "display_name": f"Soak {self.client}", "message": "Hello!"}
        if self.rng.random() < 0.5:
            fields["email"] = self.email()
        # 201 for a new message; 200 for one sent again that was stored the first time.
        answer = b.send_form("/chat", fields, expect=(201, 200), headers={"X-Requested-With": "fetch"})
        reply = json.loads(answer.body)
        receipt = reply["receipt_url"].rstrip("/").split("/")[-1]
        self.tally.accept("chat", receipt_id=receipt)
        for _ in range(self.rng.randint(1, 3)):
            polled = b.get(f"/chat/messages?after={self.last_chat_id}", headers={"X-Requested-With": "fetch"})
            messages = json.loads(polled.body)["messages"]
            if messages:
                self.last_chat_id = messages[-1]["id"]

    def checkout(self) -> None:
        self.add_to_cart()
        self.submit(
            "order",
            "/checkout",
            {"name": "Soak Visitor", "email": self.email(), "address": "1 Loopback Lane, Localhost 12700"},
        )

    def my_data(self) -> None:
        b = self.browser
        page = b.get("/my-data")
        if self.rng.random() < 0.5:
            answer = b.post("/my-data/link", {"csrf_token": page.csrf_token(), "email": self.email()})
            b.follow(answer)

    # Each entry is one flow; the schedule cycles, so every flow runs early in any soak.
    SCHEDULE = (
        "browse", "newsletter", "cart", "survey", "browse", "registration", "my_data", "contact",
        "browse", "board", "cart", "chat", "browse", "checkout",
    )

    def run(self, stop: threading.Event, schedule: itertools.count) -> None:
        while not stop.is_set():
            name = self.SCHEDULE[next(schedule) % len(self.SCHEDULE)]
            try:
                if self.browser is None or self.actions >= ACTIONS_PER_VISITOR:
                    self.new_visitor()
                self.actions += 1
                getattr(self, name)()
            except FlowBroken:
                with self.tally.lock:
                    self.tally.flows_broken[name] += 1
                if stop.wait(0.05):  # e.g. the database is away: don't spin
                    break
            else:
                with self.tally.lock:
                    self.tally.flows[name] += 1


class Load:
    """Client threads running the workload against ``url`` until stopped (``name``: the Host header)."""

    def __init__(self, url: str, database_uri: str, clients: int, seed: int = 1, name: str | None = None):
        parts = urllib.parse.urlsplit(url)
        self.tally = Tally()
        catalogue = Catalogue.load(database_uri)
        schedule = itertools.count()
        self.stopping = threading.Event()
        self.visitors = [
            Visitor(n, parts.hostname, parts.port, self.tally, catalogue, seed * 1000 + n, name)
            for n in range(clients)
        ]
        self.threads = [
            threading.Thread(target=v.run, args=(self.stopping, schedule), name=f"soak-client-{v.client}")
            for v in self.visitors
        ]

    def start(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> Tally:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=REQUEST_TIMEOUT + 10)
        return self.tally


# --- Checks against the database and the processes ------------------------------------------


def vm_rss_kb(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else None


def worker_memory(*servers: GunicornServer) -> dict[int, int]:
    """VmRSS in kB of each live worker of ``servers``, by pid."""
    found = {}
    for pid in [pid for server in servers if server.process.poll() is None for pid in server.worker_pids()]:
        rss = vm_rss_kb(pid)
        if rss is not None:
            found[pid] = rss
    return found


def count_rows(database_uri: str, table: str) -> int:
    engine = create_engine(database_uri)
    with engine.connect() as conn:
        count = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    engine.dispose()
    return count


def count_visits(database_uri: str) -> int:
    return count_rows(database_uri, "visit")


def stored_submissions(database_uri: str) -> tuple[dict[str, str], set[str]]:
    """Receipt id -> kind of every submission, and every order number."""
    engine = create_engine(database_uri)
    with engine.connect() as conn:
        receipts = {row[0]: row[1] for row in conn.execute(text("SELECT receipt_id, kind FROM submission"))}
        orders = {row[0] for row in conn.execute(text("SELECT number FROM orders"))}
    engine.dispose()
    return receipts, orders


def sqlite_integrity(database_uri: str) -> str | None:
    if not database_uri.startswith("sqlite"):
        return None
    engine = create_engine(database_uri)
    with engine.connect() as conn:
        result = "; ".join(row[0] for row in conn.execute(text("PRAGMA integrity_check")))
    engine.dispose()
    return result


@dataclass
class Report:
    database: str
    seconds: float
    clients: int
    workers: int
    tally: Tally
    hosts: int = 1
    rows_before: int = 0
    rows: int = 0
    accepted: int = 0
    present: int = 0
    submissions_before: int = 0
    submissions_after: int = 0
    missing: list = field(default_factory=list)
    memory_boot: dict = field(default_factory=dict)  # kB by worker pid, before any load
    memory_start: dict = field(default_factory=dict)  # after the warm-up
    memory_end: dict = field(default_factory=dict)
    integrity: str | None = None
    log_problems: list = field(default_factory=list)
    returncode: int | None = None

    @property
    def rows_recorded(self) -> int:
        return self.rows - self.rows_before

    @property
    def submissions_stored(self) -> int:
        return self.submissions_after - self.submissions_before

    @property
    def memory_growth_kb(self) -> dict[int, int]:
        return {pid: self.memory_end[pid] - rss for pid, rss in self.memory_start.items() if pid in self.memory_end}

    def problems(self) -> list[str]:
        """What breaks the soak's promises; empty when it held."""
        found = []
        t = self.tally
        if t.server_errors:
            found.append(f"{t.server_errors} answers were 5xx")
        if t.failed or t.cut_off:
            found.append(
                f"{t.failed} requests got no answer and {len(t.cut_off)} an answer cut off ({'; '.join(t.failures)})"
            )
        if self.rows_recorded != t.answered_recorded:
            found.append(f"{self.rows_recorded} visit rows for {t.answered_recorded} answered requests")
        if self.missing:
            found.append(f"{len(self.missing)} accepted submissions missing: {self.missing[:5]}")
        if self.submissions_stored != self.accepted:
            found.append(f"{self.submissions_stored} submissions stored for {self.accepted} accepted")
        if self.integrity not in (None, "ok"):
            found.append(f"integrity_check: {self.integrity}")
        if self.returncode not in (0, None):
            found.append(f"gunicorn exited with {self.returncode}")
        found.extend(self.log_problems)
        return found

    def summary(self) -> str:
        t = self.tally
        seconds = max(self.seconds, 0.001)
        statuses = ", ".join(f"{status}: {count:,}" for status, count in sorted(t.statuses.items()))
        kinds = Counter(self.accepted_kinds)
        lines = [
            f"| database | {self.database} |",
            "|---|---|",
            f"| load | {self.clients} clients, {self.served_by}, {self.seconds:.0f} s |",
            f"| requests sent / answered | {t.sent:,} / {t.answered:,} ({t.answered / seconds:,.0f}/s) |",
            f"| answers by status | {statuses} |",
            f"| 5xx / no answer | {t.server_errors} / {t.failed} |",
            f"| recorded kinds answered / visit rows | {t.answered_recorded:,} / {self.rows_recorded:,} |",
            f"| submissions accepted / present / stored | {self.accepted:,} / {self.present:,} "
            f"/ {self.submissions_stored:,} |",
            f"| accepted per form | {', '.join(f'{k}: {kinds[k]}' for k in FORM_KINDS)} |",
            f"| flows completed / broken | {sum(t.flows.values()):,} / {sum(t.flows_broken.values()):,} |",
        ]
        for pid, start in self.memory_start.items():
            boot = self.memory_boot.get(pid)
            boot_text = f"{boot / 1024:.1f} MB → " if boot is not None else "(started during warm-up) → "
            end = self.memory_end.get(pid)
            end_text = f"{end / 1024:.1f} MB ({(end - start) / 1024:+.1f})" if end is not None else "gone"
            lines.append(
                f"| worker {pid} VmRSS boot → warm → end | {boot_text}{start / 1024:.1f} MB → {end_text} |"
            )
        if self.integrity is not None:
            lines.append(f"| PRAGMA integrity_check | {self.integrity} |")
        problems = self.problems()
        lines.append(f"| result | {'; '.join(problems) if problems else 'all checks held'} |")
        return "\n".join(lines)

    @property
    def served_by(self) -> str:
        if self.hosts == 1:
            return f"{self.workers} gunicorn workers"
        return f"{self.hosts} hosts behind nginx, {self.workers} gunicorn workers each"

    @property
    def accepted_kinds(self) -> list[str]:
        return list(self.tally.receipts.values()) + ["order"] * len(self.tally.orders)


def check(report: Report, database_uri: str, *servers: GunicornServer) -> Report:
    """Fill in what the database and the server logs say after the servers stopped."""
    tally = report.tally
    report.rows = count_visits(database_uri)
    receipts, orders = stored_submissions(database_uri)
    missing = [rid for rid in tally.receipts if rid not in receipts]
    missing += [number for number in tally.orders if number not in orders]
    report.accepted = len(tally.receipts) + len(tally.orders)
    report.present = report.accepted - len(missing)
    report.missing = missing
    report.submissions_after = count_rows(database_uri, "submission")
    report.integrity = sqlite_integrity(database_uri)
    log = "".join(server.log.read_text(errors="replace") for server in servers if server.log.exists())
    for needle in ("Traceback", "database is locked"):
        if needle in log:
            report.log_problems.append(f"server log contains {needle!r}")
    return report


def measure(servers, url: str, database_uri: str, *, seconds: float, clients: int, workers: int,
            database: str, during=None, name: str | None = None) -> Report:
    """Run the workload against ``url`` for ``seconds`` and note what the clients and ``servers`` showed.

    ``during(load)``, if given, runs in the middle of the load (fault tests).
    """
    rows_before = count_visits(database_uri)
    submissions_before = count_rows(database_uri, "submission")
    memory_boot = worker_memory(*servers)
    load = Load(url, database_uri, clients, name=name).start()
    started = time.monotonic()
    # Memory once every worker has served a while: imports and compiled
    # templates are not growth.
    time.sleep(min(WARM_UP_SECONDS, seconds / 4))
    memory_warm = worker_memory(*servers)
    if during is not None:
        during(load)
    time.sleep(max(0.0, seconds - (time.monotonic() - started)))
    memory_end = worker_memory(*servers)
    tally = load.stop()
    return Report(
        database or database_uri.split(":")[0],
        time.monotonic() - started,
        clients,
        workers,
        tally,
        hosts=len(servers),
        rows_before=rows_before,
        submissions_before=submissions_before,
        memory_boot=memory_boot,
        memory_start=memory_warm,
        memory_end=memory_end,
    )


def soak(database_uri: str, instance: Path, *, seconds: float, clients: int, workers: int = 3,
         database: str = "", during=None) -> Report:
    """Serve ``database_uri`` with gunicorn, run the workload for ``seconds``, stop gracefully, check.

    ``during(server, load)``, if given, runs in the middle of the load (fault tests).
    """
    server = GunicornServer(instance, server_settings(database_uri), workers=workers).start()
    try:
        report = measure(
            [server], server.url, database_uri, seconds=seconds, clients=clients, workers=workers,
            database=database, during=during and (lambda load: during(server, load)),
        )
        server.stop()
    finally:
        server.kill()
    report.returncode = server.process.returncode
    return check(report, database_uri, server)


# Limits on, through the shared Redis, but far above what the soak's visitors send.
SOAK_LIMITS = {
    name: "100000 per hour"
    for name in (
        "RATELIMIT_FORMS", "RATELIMIT_CHAT", "RATELIMIT_CHAT_POLL", "RATELIMIT_SIGN_IN", "RATELIMIT_MY_DATA_LINK"
    )
}


def soak_two_hosts(database_uri: str, redis_url: str, folder: Path, *, seconds: float, clients: int,
                   workers: int = 2, during=None) -> Report:
    """The same workload through nginx in front of two hosts sharing the database and Redis, then the checks.

    The hosts are set up as docs/operations.md "Several hosts" says
    (tests/support/two_hosts.py), with every rate limit counted in Redis.
    ``during(stack, load)``, if given, runs in the middle of the load.
    """
    settings = {**shared_settings(folder, database_uri, redis_url), **SOAK_LIMITS, "LOG_LEVEL": "WARNING"}
    stack = TwoHosts(folder, settings, workers=workers).start()
    try:
        report = measure(
            stack.hosts, stack.url, database_uri, seconds=seconds, clients=clients, workers=workers,
            database="postgresql", during=during and (lambda load: during(stack, load)), name=HOST,
        )
        stack.stop()
    finally:
        for host in stack.hosts:
            host.kill()
    codes = [host.process.returncode for host in stack.hosts]
    report.returncode = next((code for code in codes if code != 0), 0)
    return check(report, database_uri, *stack.hosts)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument(
        "--hosts", type=int, choices=[1, 2], default=1,
        help="2: two hosts behind nginx, on PostgreSQL and Redis (--database is then postgresql)",
    )
    args = parser.parse_args()
    if args.hosts == 2:
        args.database = "postgresql"

    from tests.conftest import PostgresServer, build_schema

    base = Path(tempfile.mkdtemp(prefix="webshop-soak-"))
    pg = redis = None
    try:
        if args.database == "sqlite":
            instance = base / "instance"
            instance.mkdir()
            uri = f"sqlite:///{instance / 'webshop.sqlite3'}"
        else:
            pg = PostgresServer()
            pg.start()
            pg.admin("CREATE DATABASE soak")
            uri = pg.url("soak")
            instance = base / "instance"
        build_schema(uri, base / "schema")
        print(f"Soaking {args.database} for {args.seconds:.0f} s with {args.clients} clients "
              f"and {args.workers} workers on {args.hosts} host(s) ...", flush=True)
        if args.hosts == 2:
            redis = RedisServer(base / "redis").start()
            report = soak_two_hosts(uri, redis.url, base / "hosts", seconds=args.seconds, clients=args.clients,
                                    workers=args.workers)
        else:
            report = soak(uri, instance, seconds=args.seconds, clients=args.clients, workers=args.workers,
                          database=args.database)
        print(report.summary())
    finally:
        if redis:
            redis.stop()
        if pg:
            pg.remove()
        shutil.rmtree(base, ignore_errors=True)
    sys.exit(1 if report.problems() else 0)


if __name__ == "__main__":
    main()
