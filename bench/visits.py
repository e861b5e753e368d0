"""Benchmark visit recording: wrk against gunicorn (2 sync workers) on 127.0.0.1, in one run.

Prints, for the product page: requests/s with recording on and off at 16 and
64 connections, a bare Flask hello-world under the same gunicorn settings,
p99 latency with reverse DNS pointed at a resolver that never answers against
reverse DNS off (every request from a different forwarded address, so every
request needs a lookup), and the rows recorded against the requests wrk saw
answered, counted after a graceful stop. Each comparison is repeated as
back-to-back pairs and reported as the median ratio with its spread, beside
the CPU time per request of the workers (and of PostgreSQL's backends).

    .venv/bin/python bench/visits.py [--duration 5] [--rounds 5] [--postgresql]
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from tests.conftest import PostgresServer, build_schema  # noqa: E402
from tests.support.dns import BlackHoleDNS  # noqa: E402
from tests.support.gunicorn import GunicornServer  # noqa: E402

WORKERS = 2
VARIED_ADDRESSES = """
request = function()
  local ip = string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255), math.random(1, 254))
  return wrk.format(nil, nil, {["X-Forwarded-For"] = ip})
end
"""


def wrk(url: str, connections: int, duration: int, script: Path | None = None) -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    if script:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    count = int(re.search(r"(\d+) requests in", output).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", output)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rate": rate,
        "count": count,
        "p99_ms": float(p99.group(1)) * scale,
        "non2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


WARMUP_SETTLE_SECONDS = 2.0


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system, every thread) the processes ``pids`` have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # a database backend that has ended
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def count_visits(uri: str) -> int:
    engine = create_engine(uri)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM visit")).scalar_one()
    engine.dispose()
    return count


def product_path(uri: str) -> str:
    engine = create_engine(uri)
    with engine.connect() as conn:
        slug = conn.execute(text("SELECT slug FROM product WHERE active ORDER BY id LIMIT 1")).scalar_one()
    engine.dispose()
    return f"/product/{slug}"


# The key every bench server signs with: a bench can sign what a browser would have been given (form tokens).
BENCH_KEY = "bench-only-key"


class Bench:
    def __init__(self, uri: str, base: Path, duration: int, database_pid: int | None = None):
        self.database_pid = database_pid  # PostgreSQL's postmaster: its backends' CPU counts too
        self.uri = uri
        self.base = base
        self.duration = duration
        self.path = product_path(uri)
        self.rows_checks = []
        self.runs = 0

    def serve(self, settings: dict, app: str | None = None) -> GunicornServer:
        self.runs += 1
        instance = self.base / f"instance-{self.runs}"
        # Every run is a new host on the same database: each signs with the same keys, as hosts sharing one must.
        settings = {
            "SECRET_KEY": BENCH_KEY,
            "RECEIPT_SIGNING_KEY_FILE": str(self.base / "receipt-signing-key.pem"),
            "SQLALCHEMY_DATABASE_URI": self.uri,
            **settings,
        }
        return GunicornServer(instance, settings, workers=WORKERS, app=app).start()

    def run(self, label: str, settings: dict, connections: int, path: str | None = None,
            script: Path | None = None, app: str | None = None) -> dict:
        server = self.serve(settings, app)
        url = server.url + (path or self.path)
        try:
            wrk(url, connections, 1, script)  # warm up
            # Let the writer store the warm-up's rows (it waits up to
            # VISIT_FLUSH_MAX_INTERVAL under load) before taking the baseline.
            time.sleep(WARMUP_SETTLE_SECONDS)
            before = count_visits(self.uri) if app is None else 0
            measured = server.worker_pids() + (children(self.database_pid) if self.database_pid else [])
            cpu_before = cpu_seconds(measured)
            result = wrk(url, connections, self.duration, script)
            time.sleep(WARMUP_SETTLE_SECONDS)  # the writer stores the run's last rows: its CPU counts too
            result["cpu_us"] = (cpu_seconds(measured) - cpu_before) / max(result["count"], 1) * 1e6
        finally:
            server.stop()
        if app is None and settings.get("VISITS_ENABLED", True):
            rows = count_visits(self.uri) - before
            self.rows_checks.append((label, connections, result["count"], rows))
        result["label"] = label
        notes = f", {result['non2xx']} non-2xx" if result["non2xx"] else ""
        notes += f", socket errors {result['socket_errors']}" if result["socket_errors"] else ""
        print(
            f"  {label:<40} -c{connections:<3} {result['rate']:>8.0f} req/s  "
            f"p99 {result['p99_ms']:>7.2f} ms  {result['count']} answered  "
            f"CPU {result['cpu_us']:>5.0f} µs/request{notes}",
            flush=True,
        )
        return result


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f}"


def run_all(uri: str, base: Path, duration: int, name: str, rounds: int, database_pid: int | None = None):
    """Every comparison runs as ``rounds`` back-to-back pairs; a ratio is the median of the pairs.

    Pairing each "on" run with the "off" run just before it, and taking the
    median over the pairs, keeps drift in the machine's load (other tenants,
    CPU frequency) out of the ratio; the min–max over the pairs is printed
    beside it.
    """
    bench = Bench(uri, base, duration, database_pid)
    quiet = {"LOG_LEVEL": "WARNING"}
    print(f"\n{name}: product page {bench.path}, {WORKERS} sync workers, {duration} s per run", flush=True)
    lines = []
    for connections in (16, 64):
        hello = bench.run("bare Flask hello-world", {}, connections, path="/", app="bench.hello:app")
        off_settings = {**quiet, "VISITS_ENABLED": False, "RDNS_ENABLED": False}
        offs, ons = [], []
        for _ in range(rounds):
            offs.append(bench.run("product page, recording off", off_settings, connections))
            ons.append(bench.run("product page, recording on", {**quiet, "RDNS_ENABLED": False}, connections))
        ratios = [on["rate"] / off["rate"] for off, on in zip(offs, ons, strict=True)]
        off_rate = median([r["rate"] for r in offs])
        on_rate = median([r["rate"] for r in ons])
        off_cpu = median([r["cpu_us"] for r in offs])
        on_cpu = median([r["cpu_us"] for r in ons])
        lines.append(
            f"| {name} | -c{connections} | {hello['rate']:,.0f} "
            f"| {off_rate:,.0f} ({off_rate / hello['rate']:.2f}) "
            f"| {on_rate:,.0f} ({on_rate / hello['rate']:.2f}) "
            f"| **{median(ratios):.2f}** | {spread(ratios)} "
            f"| {off_cpu:,.0f} / {on_cpu:,.0f} µs ({(on_cpu / off_cpu - 1) * 100:+.1f} %) |"
        )
    script = base / "varied-addresses.lua"
    script.write_text(VARIED_ADDRESSES)
    black_hole = BlackHoleDNS()
    proxied = {**quiet, "TRUSTED_PROXIES": 1}
    offs, holes = [], []
    try:
        for _ in range(rounds):
            offs.append(bench.run("every request a new address, rDNS off", {**proxied, "RDNS_ENABLED": False},
                                  64, script=script))
            holes.append(bench.run("every request a new address, black hole", {
                **proxied, "RDNS_ENABLED": True, "RDNS_NAMESERVERS": [black_hole.nameserver], "RDNS_TIMEOUT": 2,
            }, 64, script=script))
    finally:
        black_hole.stop()
    ratios = [hole["p99_ms"] / off["p99_ms"] for off, hole in zip(offs, holes, strict=True)]
    p99_line = (
        f"| {name} | -c64 | {median([r['p99_ms'] for r in offs]):.2f} ms "
        f"| {median([r['p99_ms'] for r in holes]):.2f} ms "
        f"| **{median(ratios):.2f}** | {spread(ratios)} "
        f"| {median([r['rate'] for r in offs]):,.0f} / {median([r['rate'] for r in holes]):,.0f} |"
    )
    by_kind: dict[str, list[tuple[int, int]]] = {}
    for label, c, answered, rows in bench.rows_checks:
        by_kind.setdefault(f"{label}, -c{c}", []).append((answered, rows))
    rows_lines = [
        f"| {name} | {kind} | {len(runs)} | {sum(a for a, _ in runs):,} | {sum(r for _, r in runs):,} "
        f"| {'yes' if all(r >= a for a, r in runs) else 'NO'} |"
        for kind, runs in by_kind.items()
    ]
    return lines, p99_line, rows_lines


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=5, help="off/on pairs per comparison (default 5)")
    parser.add_argument("--postgresql", action="store_true", help="also run against a throwaway PostgreSQL")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt install wrk)")

    base = Path(tempfile.mkdtemp(prefix="webshop-bench-"))
    tables = []
    pg = None
    try:
        sqlite_dir = base / "sqlite"
        sqlite_dir.mkdir()
        uri = f"sqlite:///{sqlite_dir / 'webshop.sqlite3'}"
        build_schema(uri, sqlite_dir)
        tables.append(run_all(uri, base, args.duration, "SQLite", args.rounds))
        if args.postgresql:
            pg = PostgresServer()
            pg.start()
            pg.admin("CREATE DATABASE bench")
            uri = pg.url("bench")
            build_schema(uri, base / "pg-schema")
            postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
            tables.append(run_all(uri, base, args.duration, "PostgreSQL", args.rounds, postmaster))
    finally:
        if pg:
            pg.remove()
        shutil.rmtree(base, ignore_errors=True)

    print(f"\nMedians of {args.rounds} back-to-back off/on pairs; the spread is the min–max ratio over the pairs.")
    print("CPU per request: the gunicorn workers' CPU time (every thread, the writer's included) and, on")
    print("PostgreSQL, the server backends', from the start of a run until its rows are stored,")
    print("per answered request.")
    print("\n| database | wrk | bare hello req/s | recording off (× hello) | recording on (× hello) "
          "| on / off | spread | CPU per request, off / on |")
    print("|---|---|---|---|---|---|---|---|")
    for lines, _, _ in tables:
        print("\n".join(lines))
    print("\n| database | wrk | p99, rDNS off | p99, black-hole resolver | ratio | spread "
          "| req/s off / black hole |")
    print("|---|---|---|---|---|---|---|")
    for _, p99_line, _ in tables:
        print(p99_line)
    print("\n| database | runs | count | requests answered (wrk), total | rows recorded, total "
          "| every run: rows ≥ answered |")
    print("|---|---|---|---|---|---|")
    for _, _, rows_lines in tables:
        print("\n".join(rows_lines))
    print("\nRows counted after a graceful stop; rows may exceed wrk's count by requests still in flight "
          "when wrk stopped (served, but not counted by wrk).")


if __name__ == "__main__":
    main()
