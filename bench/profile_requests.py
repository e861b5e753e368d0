"""Where a request's time goes: webshop against the plain shop, in-process, by cProfile.

The same three requests as bench/anchor.py (the product page, the cart-add
POST, the checkout POST) go through each app's Flask test client, on copies
of one freshly built SQLite database. Every POST repeats the one a browser
made: the same cookies and CSRF token, so each is a valid request; each
checkout POST carries a single-use form token of its own (minted beforehand
for the buyer's session), so each places an order rather than being answered
with the first. Prints per request the function calls (exact, the same run to run), the CPU time
(``time.process_time``, timed without the profiler; it moves with the machine's load) and their
ratios against the plain shop; ``--top N`` adds each profile's N costliest
functions, by their own time and with what they call.

``--instructions N`` adds the machine instructions per request, counted by
valgrind's callgrind over N requests (the process's count with N requests
less its count with none, so start-up and warm-up cancel out). Unlike CPU
time, an instruction count hardly moves with whatever else the machine is
doing (the visit writer stores the rows in one batch at the end instead of on
its timer, so that its work does not follow the clock), so its ratio can
judge an in-process change on a loaded machine.

    .venv/bin/python bench/profile_requests.py [--requests 300] [--rounds 3] [--top 25] [--only product]
    .venv/bin/python bench/profile_requests.py --instructions 100
"""

import argparse
import concurrent.futures
import cProfile
import io
import json
import os
import pstats
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The plain shop's process never imports webshop, whose SQLite connection settings apply process-wide.
from bench.plain_shop import CUSTOMER  # noqa: E402

REQUESTS = ("product", "cart-add", "checkout")
WARM_UP = 20  # requests of each kind before any is timed
SUBJECTS = ("webshop", "webshop, recording off", "plain shop")
OFF = "webshop, recording off"  # profiled for the product page only: what recording costs
UNTIMED_WRITER = {"VISIT_FLUSH_INTERVAL": 3600, "VISIT_FLUSH_MAX_INTERVAL": 3600}
TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|type="hidden" name="csrf_token" value="([^"]+)"')


def csrf_token(page: str) -> str:
    found = TOKEN.search(page)
    return found.group(1) or found.group(2)


def cookie_header(client) -> str:
    return "; ".join(f"{cookie.key}={cookie.value}" for cookie in client._cookies.values())


class Subject:
    """One app and the requests to profile on it, each a function making one request."""

    def __init__(self, name: str, app, product_path: str):
        self.name, self.app, self.product_path = name, app, product_path

    def requests(self, orders: int) -> dict:
        """The requests to profile; ``orders``: how many checkout POSTs there will be, each a form filled in once."""
        adder = self.app.test_client()
        page = adder.get(self.product_path).get_data(as_text=True)
        product_id = re.search(r'name="product_id" type="hidden" value="(\d+)"', page).group(1)
        add_fields = {"csrf_token": csrf_token(page), "product_id": product_id, "quantity": "1"}
        add_cookie = cookie_header(adder)
        buyer = self.app.test_client()
        token = csrf_token(buyer.get(self.product_path).get_data(as_text=True))
        buyer.post("/cart/add", data={**add_fields, "csrf_token": token})
        checkout = {"csrf_token": csrf_token(buyer.get("/checkout").get_data(as_text=True)), **CUSTOMER}
        buy_cookie = cookie_header(buyer)
        bare = self.app.test_client(use_cookies=False)
        tokens = iter(self.submission_tokens(orders, buyer.get_cookie("session").value))

        def product():
            return bare.get(self.product_path, headers={"Cookie": add_cookie})

        def cart_add():
            return bare.post("/cart/add", data=add_fields, headers={"Cookie": add_cookie})

        def place_order():
            return bare.post("/checkout", data={**checkout, **next(tokens)}, headers={"Cookie": buy_cookie})

        return {"product": (product, 200), "cart-add": (cart_add, 303), "checkout": (place_order, 303)}

    def submission_tokens(self, count: int, session_cookie: str) -> list[dict]:
        """The form token of each checkout POST, as its page would have issued it (the plain shop has none).

        Each is bound to the buyer's session, whose signed cookie is ``session_cookie``.
        """
        if self.name == "plain shop":
            return [{}] * count
        from bench.anchor import session_csrf_secret
        from webshop.submissions import issue_submission_token

        secret = session_csrf_secret(self.app, session_cookie)
        with self.app.app_context():
            return [{"submission_token": issue_submission_token(secret)} for _ in range(count)]


def profile(call, expected: int, count: int) -> tuple[pstats.Stats, float]:
    """The CPU time of one request, timed without the profiler, then the profile of ``count`` more."""
    for _ in range(WARM_UP):  # templates compiled, connections open
        assert call().status_code == expected
    started = time.process_time()
    for _ in range(count):
        response = call()
    cpu = (time.process_time() - started) / count
    assert response.status_code == expected, response.status_code
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        call()
    profiler.disable()
    return pstats.Stats(profiler), cpu


def top_functions(stats: pstats.Stats, count: int, requests: int) -> str:
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats("tottime").print_stats(count)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    return "\n".join(lines[start:]) + f"\n(totals over {requests} requests)"


def build_app(subject: str, database: Path, instance: Path, **settings):
    if subject != "plain shop":
        from bench.anchor import QUIET, RECORDING_OFF
        from tests.support.apps import TEST_KEY
        from webshop import create_app

        base = RECORDING_OFF if subject == OFF else QUIET
        config = {**base, **settings, "SECRET_KEY": TEST_KEY, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"}
        return create_app(config, instance_path=str(instance))
    from bench.plain_shop import create_app as create_plain_app

    os.environ.update(
        FLASK_SECRET_KEY="plain-shop-profile",
        FLASK_SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}",
        FLASK_MAILDIR=str(instance / "outbox"),
    )
    instance.mkdir(exist_ok=True)
    return create_plain_app()


def count_subject(args) -> None:
    """In a process of its own, under callgrind: warm up, then make ``args.requests`` of one request."""
    folder = Path(args.folder)
    shop = "plain shop" if args.subject == "plain shop" else "webshop"
    # A copy of the database for each count, so that no count inherits another's pages to checkpoint; the visit
    # writer stores its rows once, at the end: batches on a timer would make the count follow the clock.
    database = folder / f"{shop}-{args.subject}-{args.count}-{args.requests}.sqlite3"
    with closing(sqlite3.connect(folder / f"{shop}.sqlite3")) as source, closing(sqlite3.connect(database)) as copy:
        source.backup(copy)  # the log's pages too
    app = build_app(args.subject, database, folder / f"{shop}-instance", **UNTIMED_WRITER)
    # As many order tokens with N requests as with none: minting them cancels out with the rest of the start.
    call, expected = Subject(args.subject, app, args.product_path).requests(orders=args.orders)[args.count]
    for _ in range(WARM_UP):
        assert call().status_code == expected
    for _ in range(args.requests):
        call()
    if args.subject != "plain shop":
        from webshop.visits import flush

        flush(app)  # the visit rows' storing counts too


def subject_command(subject: str, folder: Path, product_path: str, requests: int) -> list[str]:
    """The command that runs ``subject`` in a process of its own, on the databases in ``folder``."""
    return [
        sys.executable,
        __file__,
        f"--subject={subject}",
        f"--folder={folder}",
        f"--product-path={product_path}",
        f"--requests={requests}",
    ]


def callgrind_total(out: Path) -> int:
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no instruction total in {out}")


def instructions(folder: Path, subject: str, name: str, product_path: str, count: int) -> float:
    """Instructions per request of ``name`` in ``subject``: N requests' count less none's, over N."""
    totals = []
    for requests in (0, count):
        out = folder / f"callgrind-{subject}-{name}-{requests}.out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                *subject_command(subject, folder, product_path, requests),
                f"--orders={WARM_UP + count}",
                f"--count={name}",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "FLASK_LOG_LEVEL": "WARNING", "PYTHONHASHSEED": "0"},
        )
        totals.append(callgrind_total(out))
    return (totals[1] - totals[0]) / count


def count_instructions(folder: Path, names: list[str], product_path: str, count: int) -> dict:
    """Every subject's instructions per request, two valgrind processes at a time."""
    jobs = [(s, n) for s in SUBJECTS for n in names if s != OFF or n == "product"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        counted = pool.map(lambda job: instructions(folder, *job, product_path, count), jobs)
        return dict(zip(jobs, counted, strict=True))


def profile_subject(args) -> None:
    """In a process of its own (one app per process): profile the requests, write each profile and CPU time."""
    folder = Path(args.folder)
    shop = "plain shop" if args.subject == "plain shop" else "webshop"  # both webshops: one database, one key
    app = build_app(args.subject, folder / f"{shop}.sqlite3", folder / f"{shop}-instance")
    subject = Subject(args.subject, app, args.product_path)
    cpu = {}
    for name, (call, expected) in subject.requests(orders=WARM_UP + 2 * args.requests).items():
        if name in args.only and (args.subject != OFF or name == "product"):
            stats, cpu[name] = profile(call, expected, args.requests)
            stats.dump_stats(folder / f"{args.subject}-{name}.prof")
    (folder / f"{args.subject}-cpu.json").write_text(json.dumps(cpu))
    if args.subject != "plain shop":
        from webshop.visits import flush

        flush(app)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="profiled requests of each kind (default 300)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each subject, in turn (default 3)")
    parser.add_argument("--top", type=int, default=0, help="also print each profile's N costliest functions")
    parser.add_argument("--only", choices=REQUESTS, action="append", help="profile only these requests")
    parser.add_argument(
        "--instructions",
        type=int,
        default=0,
        metavar="N",
        help="also count instructions per request over N requests, with valgrind (try 100)",
    )
    parser.add_argument("--subject", choices=SUBJECTS, help=argparse.SUPPRESS)
    parser.add_argument("--count", choices=REQUESTS, help=argparse.SUPPRESS)
    parser.add_argument("--orders", type=int, help=argparse.SUPPRESS)  # checkout tokens to mint under --count
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--product-path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.only = args.only or list(REQUESTS)
    if args.subject:
        return count_subject(args) if args.count else profile_subject(args)

    from bench.plain_shop import create_order_tables
    from tests.support.apps import build_schema

    folder = Path(tempfile.mkdtemp(prefix="webshop-profile-"))
    try:
        webshop_db, plain_db = folder / "webshop.sqlite3", folder / "plain shop.sqlite3"
        build_schema(f"sqlite:///{webshop_db}", folder)
        shutil.copyfile(webshop_db, plain_db)
        create_order_tables(f"sqlite:///{plain_db}")
        with closing(sqlite3.connect(webshop_db)) as connection:
            (slug,) = connection.execute("SELECT slug FROM product WHERE active ORDER BY id LIMIT 1").fetchone()
        cpu = {s: [] for s in SUBJECTS}
        for round_number in range(args.rounds):  # the subjects in turn, so that each round sees the same load
            for subject in SUBJECTS if round_number % 2 == 0 else SUBJECTS[::-1]:
                subprocess.run(
                    [
                        *subject_command(subject, folder, f"/product/{slug}", args.requests),
                        *(f"--only={name}" for name in args.only),
                    ],
                    check=True,
                    env={**os.environ, "FLASK_LOG_LEVEL": "WARNING"},
                )
                cpu[subject].append(json.loads((folder / f"{subject}-cpu.json").read_text()))
        stats = {
            (s, n): pstats.Stats(str(folder / f"{s}-{n}.prof"))
            for s in SUBJECTS
            for n in args.only
            if (folder / f"{s}-{n}.prof").exists()
        }
        counted = (
            count_instructions(folder, args.only, f"/product/{slug}", args.instructions) if args.instructions else {}
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    def compared(subject: str, other: str, name: str) -> str:
        """Median CPU per request of each, and the median of the rounds' ratios with their min–max."""
        mine = [r[name] for r in cpu[subject]]
        theirs = [r[name] for r in cpu[other]]
        ratios = [a / b for a, b in zip(mine, theirs, strict=True)]
        return (
            f"{median(mine) * 1e3:.2f} ms | {median(theirs) * 1e3:.2f} ms | **{median(ratios):.2f}** "
            f"({min(ratios):.2f}–{max(ratios):.2f})"
        )

    print(f"\nPer request, over {args.requests} of each, in-process through the test client (SQLite); CPU time")
    print(f"as the median of {args.rounds} rounds, the ratio as the median of the rounds' ratios (min–max):\n")
    print("| request | webshop calls | plain calls | ratio | webshop CPU | plain CPU | ratio |")
    print("|---|---|---|---|---|---|---|")
    for name in args.only:
        shop_calls = stats["webshop", name].total_calls / args.requests
        plain_calls = stats["plain shop", name].total_calls / args.requests
        print(
            f"| {name} | {shop_calls:,.0f} | {plain_calls:,.0f} | {shop_calls / plain_calls:.2f} "
            f"| {compared('webshop', 'plain shop', name)} |"
        )
    if ("webshop", "product") in stats:
        print(
            f"| product, recording on / off | {stats['webshop', 'product'].total_calls / args.requests:,.0f} "
            f"| {stats[OFF, 'product'].total_calls / args.requests:,.0f} | | {compared('webshop', OFF, 'product')} |"
        )
    if counted:
        print(
            f"\nInstructions per request, counted by callgrind over {args.instructions} requests of each "
            "(nearly the same whatever the machine's load):\n"
        )
        print("| request | webshop | plain shop | ratio |")
        print("|---|---|---|---|")
        for name in args.only:
            shop, plain = counted["webshop", name], counted["plain shop", name]
            print(f"| {name} | {shop / 1e6:.2f} M | {plain / 1e6:.2f} M | **{shop / plain:.2f}** |")
        if ("webshop", "product") in counted:
            on, off = counted["webshop", "product"], counted[OFF, "product"]
            print(f"| product, recording on / off | {on / 1e6:.2f} M | {off / 1e6:.2f} M (off) | **{on / off:.2f}** |")
    if args.top:
        for name in args.only:
            print(f"\n## webshop, {name}\n")
            print(top_functions(stats["webshop", name], args.top, args.requests))


if __name__ == "__main__":
    main()
