"""Benchmark webshop against a plain Flask shop (bench/plain_shop.py), side by side in one run.

Both run under the same gunicorn (2 sync workers) on 127.0.0.1; the plain
shop reads a copy of webshop's freshly built database (on PostgreSQL, a
database made from it as a template). Prints, as medians of back-to-back
pairs with the min–max over the pairs:

- the product page, webshop with recording on against the plain shop, at 16
  and 64 connections (goal ≥ 0.90), and webshop recording on against
  recording off (goal ≥ 0.97), with the workers' (and PostgreSQL backends')
  CPU per request;
- the cart-add POST and the checkout POST, webshop against the plain shop's
  session cart (goal ≥ 0.9): wrk scripts carrying the cookies and CSRF token
  a browser got beforehand, so every request is a valid one; each checkout
  POST carries a single-use form token of its own, signed here with the
  bench servers' key for the browser whose cookies the script sends, so each
  places an order (a token sent twice would only be answered with the first
  order, and one for another browser refused);
- p99 latency with reverse DNS pointed at a black-hole resolver against rDNS
  off, every request from a new forwarded address (goal ≤ 1.1).

    .venv/bin/python bench/anchor.py [--duration 5] [--rounds 5] [--postgresql] [--parts product,posts,p99]
"""

import argparse
import html
import http.cookiejar
import re
import shutil
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from flask.sessions import SecureCookieSessionInterface  # noqa: E402

from bench.plain_shop import CUSTOMER, create_order_tables  # noqa: E402
from bench.visits import (  # noqa: E402
    BENCH_KEY,
    VARIED_ADDRESSES,
    WARMUP_SETTLE_SECONDS,
    WORKERS,
    Bench,
    children,
    cpu_seconds,
    spread,
    wrk,
)
from tests.conftest import PostgresServer, build_schema  # noqa: E402
from tests.support.dns import BlackHoleDNS  # noqa: E402
from webshop.submissions import issue_submission_token  # noqa: E402

PLAIN_APP = "bench.plain_shop:create_app()"
# What a run measures: the product page, the two POSTs, p99 with a black-hole resolver.
PARTS = ("product", "posts", "p99")
# Every POST in a run is a valid one: no form limit is reached (the limiter still counts each one).
QUIET = {"LOG_LEVEL": "WARNING", "RDNS_ENABLED": False, "RATELIMIT_FORMS": "100000000 per minute"}
RECORDING_OFF = {**QUIET, "VISITS_ENABLED": False}
POST_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = {cookie}
"""
# Orders a run can place, each with a token of its own; wrk's threads take every WRK_THREADS_AT_MOST-th one,
# each from its own starting place, so no two requests share one.
TOKENS_PER_RUN = 50_000
WRK_THREADS_AT_MOST = 8
ORDER_SCRIPT = (
    POST_SCRIPT
    + """
local tokens = {{}}
for token in string.gmatch({tokens}, "%S+") do tokens[#tokens + 1] = token end
local threads = 0
function setup(thread)
  thread:set("next_token", threads)
  threads = threads + 1
end
function request()
  next_token = next_token + {stride}
  return wrk.format(nil, nil, nil, wrk.body .. "&submission_token=" .. tokens[next_token % #tokens + 1])
end
"""
)


def lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Browser:
    """A client with a cookie jar, to get the cookies and CSRF token a POST needs."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> str:
        with self.opener.open(self.base_url + path, timeout=10) as response:
            return response.read().decode()

    def post(self, path: str, fields: dict) -> str:
        data = urllib.parse.urlencode(fields).encode()
        with self.opener.open(self.base_url + path, data=data, timeout=10) as response:
            return response.read().decode()

    def cookie_header(self) -> str:
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.jar)


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'type="hidden" name="csrf_token" value="([^"]+)"', page
    )
    return html.unescape(found.group(1))


def cart_add_fields(browser: Browser, product_path: str) -> dict:
    page = browser.get(product_path)
    product_id = re.search(r'name="product_id" type="hidden" value="(\d+)"', page).group(1)
    return {"csrf_token": csrf_token(page), "product_id": product_id, "quantity": "1"}


def cart_add_script(base: Path, name: str):
    def prepare(url: str, product_path: str) -> tuple[Path, str]:
        browser = Browser(url)
        fields = cart_add_fields(browser, product_path)
        return write_script(base / f"{name}-cart-add.lua", fields, browser), "/cart/add"

    return prepare


def checkout_script(base: Path, name: str):
    def prepare(url: str, product_path: str) -> tuple[Path, str]:
        browser = Browser(url)
        browser.post("/cart/add", cart_add_fields(browser, product_path))
        fields = {"csrf_token": csrf_token(browser.get("/checkout")), **CUSTOMER}
        return write_script(base / f"{name}-checkout.lua", fields, browser, submission_tokens(browser)), "/checkout"

    return prepare


def submission_tokens(browser: Browser) -> list[str]:
    """Single-use form tokens as the bench servers issue them to ``browser`` with a form's page, one per order."""
    signer = Flask(__name__)
    signer.config.update(SECRET_KEY=BENCH_KEY, SECRET_KEY_FALLBACKS=[])
    session = next(cookie.value for cookie in browser.jar if cookie.name == "session")
    secret = session_csrf_secret(signer, session)
    with signer.app_context():
        return [issue_submission_token(secret) for _ in range(TOKENS_PER_RUN)]


def session_csrf_secret(app: Flask, session_cookie: str) -> str:
    """The CSRF secret a browser's session cookie holds, read with ``app``'s key: its form tokens are bound to it."""
    return SecureCookieSessionInterface().get_signing_serializer(app).loads(session_cookie)["csrf_token"]


def write_script(path: Path, fields: dict, browser: Browser, tokens: list[str] | None = None) -> Path:
    """A wrk script posting ``fields`` with the browser's cookies; with ``tokens``, each POST takes one."""
    values = {"body": lua_string(urllib.parse.urlencode(fields)), "cookie": lua_string(browser.cookie_header())}
    if tokens is None:
        path.write_text(POST_SCRIPT.format(**values))
    else:
        path.write_text(ORDER_SCRIPT.format(**values, tokens=lua_string(" ".join(tokens)), stride=WRK_THREADS_AT_MOST))
    return path


def measure(bench: Bench, label: str, settings: dict, connections: int, app: str | None = None,
            prepare=None, script: Path | None = None) -> dict:
    """One wrk run against a fresh gunicorn, with the workers' CPU per answered request."""
    server = bench.serve(settings, app)
    path = bench.path
    try:
        if prepare:
            script, path = prepare(server.url, bench.path)
        url = server.url + path
        wrk(url, connections, 1, script)  # warm up
        if prepare:  # a script's forms are filled in once: the measured run gets its own
            script, path = prepare(server.url, bench.path)
        time.sleep(WARMUP_SETTLE_SECONDS)
        measured = server.worker_pids() + (children(bench.database_pid) if bench.database_pid else [])
        cpu_before = cpu_seconds(measured)
        result = wrk(url, connections, bench.duration, script)
        time.sleep(WARMUP_SETTLE_SECONDS)  # the visit writer stores the run's last rows: its CPU counts too
        result["cpu_us"] = (cpu_seconds(measured) - cpu_before) / max(result["count"], 1) * 1e6
    finally:
        server.stop()
    notes = f", {result['non2xx']} non-2xx" if result["non2xx"] else ""
    notes += f", socket errors {result['socket_errors']}" if result["socket_errors"] else ""
    print(
        f"  {label:<44} -c{connections:<3} {result['rate']:>8.0f} req/s  p99 {result['p99_ms']:>7.2f} ms  "
        f"CPU {result['cpu_us']:>5.0f} µs/request{notes}",
        flush=True,
    )
    return result


def ratio_line(name: str, what: str, connections: int, left: list[dict], right: list[dict], key="rate",
               cpu=True) -> str:
    ratios = [a[key] / b[key] for a, b in zip(left, right, strict=True)]
    unit, digits = (" ms", 2) if key == "p99_ms" else (" req/s", 0)
    line = (
        f"| {name} | {what} | -c{connections} | {median([r[key] for r in left]):,.{digits}f}{unit} "
        f"| {median([r[key] for r in right]):,.{digits}f}{unit} | **{median(ratios):.2f}** | {spread(ratios)} |"
    )
    if cpu:
        left_cpu, right_cpu = median([r["cpu_us"] for r in left]), median([r["cpu_us"] for r in right])
        line += f" {left_cpu:,.0f} / {right_cpu:,.0f} µs ({(left_cpu / right_cpu - 1) * 100:+.1f} %) |"
    else:
        line += " |"
    return line


def run_all(webshop_uri: str, plain_uri: str, base: Path, duration: int, rounds: int, name: str,
            database_pid: int | None = None, parts=PARTS) -> list[str]:
    webshop = Bench(webshop_uri, base / "webshop", duration, database_pid)
    plain = Bench(plain_uri, base / "plain", duration, database_pid)
    print(f"\n{name}: product page {webshop.path}, {WORKERS} sync workers, {duration} s per run", flush=True)
    lines = []
    for connections in (16, 64) if "product" in parts else ():
        plains, ons, offs = [], [], []
        for _ in range(rounds):
            plains.append(measure(plain, "plain shop, product page", {}, connections, app=PLAIN_APP))
            ons.append(measure(webshop, "webshop, product page, recording on", QUIET, connections))
            offs.append(measure(webshop, "webshop, product page, recording off", RECORDING_OFF, connections))
        lines.append(ratio_line(name, "product page, webshop (recording on) / plain", connections, ons, plains))
        lines.append(ratio_line(name, "product page, recording on / off", connections, ons, offs))
    posts = (("cart-add POST", cart_add_script), ("checkout POST", checkout_script))
    for what, prepare in posts if "posts" in parts else ():
        plains, ons = [], []
        for _ in range(rounds):
            plains.append(measure(plain, f"plain shop, {what}", {}, 64, app=PLAIN_APP,
                                  prepare=prepare(base, "plain")))
            ons.append(measure(webshop, f"webshop, {what}", QUIET, 64, prepare=prepare(base, "webshop")))
        lines.append(ratio_line(name, f"{what}, webshop / plain", 64, ons, plains))
    if "p99" not in parts:
        return lines
    script = base / "varied-addresses.lua"
    script.write_text(VARIED_ADDRESSES)
    black_hole = BlackHoleDNS()
    proxied = {**QUIET, "TRUSTED_PROXIES": 1}
    offs, holes = [], []
    try:
        for _ in range(rounds):
            offs.append(measure(webshop, "every request a new address, rDNS off", proxied, 64, script=script))
            holes.append(measure(webshop, "every request a new address, black hole", {
                **proxied, "RDNS_ENABLED": True, "RDNS_NAMESERVERS": [black_hole.nameserver], "RDNS_TIMEOUT": 2,
            }, 64, script=script))
    finally:
        black_hole.stop()
    lines.append(ratio_line(name, "p99, black-hole resolver / rDNS off", 64, holes, offs, key="p99_ms", cpu=False))
    return lines


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=5, help="back-to-back pairs per comparison (default 5)")
    parser.add_argument("--postgresql", action="store_true", help="also run against a throwaway PostgreSQL")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"which comparisons (default: {','.join(PARTS)})")
    return parser


def measure_all(args) -> str:
    """Every comparison ``args`` asks for, on SQLite and (with ``--postgresql``) PostgreSQL: the table."""
    parts = [part for part in args.parts.split(",") if part]
    if unknown := set(parts) - set(PARTS):
        sys.exit(f"unknown parts: {', '.join(sorted(unknown))}")
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt install wrk)")

    base = Path(tempfile.mkdtemp(prefix="webshop-anchor-"))
    tables = []
    pg = None
    try:
        folder = base / "sqlite"
        folder.mkdir()
        webshop_db, plain_db = folder / "webshop.sqlite3", folder / "plain.sqlite3"
        build_schema(f"sqlite:///{webshop_db}", folder)
        shutil.copyfile(webshop_db, plain_db)
        create_order_tables(f"sqlite:///{plain_db}")
        tables.append(run_all(f"sqlite:///{webshop_db}", f"sqlite:///{plain_db}", base / "s", args.duration,
                              args.rounds, "SQLite", parts=parts))
        if args.postgresql:
            pg = PostgresServer()
            pg.start()
            pg.admin("CREATE DATABASE bench")
            build_schema(pg.url("bench"), base / "pg-schema")
            pg.admin("CREATE DATABASE bench_plain TEMPLATE bench")
            create_order_tables(pg.url("bench_plain"))
            postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
            tables.append(run_all(pg.url("bench"), pg.url("bench_plain"), base / "p", args.duration,
                                  args.rounds, "PostgreSQL", postmaster, parts))
    finally:
        if pg:
            pg.remove()
        shutil.rmtree(base, ignore_errors=True)

    return "\n".join([
        f"Medians of {args.rounds} back-to-back pairs; the spread is the min–max ratio over the pairs.",
        "CPU per request: the gunicorn workers' CPU time (every thread) and, on PostgreSQL, the server",
        "backends', from the start of a run until its last visit rows are stored, per answered request.",
        "",
        "| database | comparison | wrk | req/s (or p99) | against | ratio | spread | CPU per request |",
        "|---|---|---|---|---|---|---|---|",
        *(line for lines in tables for line in lines),
    ])


def main():
    print("\n" + measure_all(arguments().parse_args()))


if __name__ == "__main__":
    main()
