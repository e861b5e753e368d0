"""How cost grows with the data: the same measurements on a small and a large database, side by side.

One run builds two SQLite databases with bench/load_data.py, 10,000 and
1,000,000 visit rows (1,000 and 100,000 submissions, in proportion), each
with its finished days, and today up to the start of the hour, archived by
``flask visits archive`` (the dashboard reads those from the daily figures, the
rest of today from the visits, and archives today's next hour itself on the
first view of it: the warm-up request), and prints for each measurement the figure at both sizes and their ratio
against the goal:

- ``pages``: in-process through the Flask test client, the median time of
  ``--runs`` requests after a warm-up, the two sizes requested in turn so
  that both see the same load on the machine: the staff dashboard, the visit log
  filtered by path and date, a visitor profile, "your data" for the browser
  with 50 visits, and ``/privacy`` for a new visitor (goal: ≤ 2 ×);
- ``cli``: the peak RSS (``ru_maxrss`` of the child) of ``flask visits
  export`` and ``flask visits purge --older-than 0`` (every row) as
  subprocesses (goal: ≤ 1.5 ×);
- ``purge``: the product page's p99 under ``wrk`` against gunicorn serving the
  large database, while a purge of every row runs, against the same without
  it, in ``--rounds`` rounds (goal: ≤ 1.5 ×); the purge runs once as a plain
  command line starts it and once under ``nice -n 10`` as the cron line in
  docs/operations.md does; here the two columns are "without" and "during";
- ``memory``: each worker's VmRSS after ``--memory-requests`` requests of
  bench/soak.py's mixed workload against after a tenth of them (goal:
  ≤ 1.2 ×); the columns are "after a tenth" and "after all". It runs on the
  small database: what it measures is growth with the number of requests
  served, and the large database's slow pages (the dashboard, ``/privacy``)
  would make 100,000 requests take hours on two cores.

    .venv/bin/python bench/scale.py                       # 10k against 1M, everything
    .venv/bin/python bench/scale.py --large 100000 --memory-requests 10000 --runs 3   # a quick check
    .venv/bin/python bench/scale.py --parts pages,cli
"""

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.load_data import FIFTY_VISITS_ID, load  # noqa: E402
from bench.soak import Load, server_settings, worker_memory  # noqa: E402
from bench.visits import product_path, spread, wrk  # noqa: E402
from tests.support.apps import TEST_KEY  # noqa: E402
from tests.support.gunicorn import GunicornServer  # noqa: E402
from tests.support.pages import acknowledge_banner  # noqa: E402
from tests.support.staff import signed_in  # noqa: E402
from webshop import cookies, create_app, visits  # noqa: E402
from webshop.db import db  # noqa: E402
from webshop.models import utcnow  # noqa: E402

FLASK = str(Path(sys.executable).parent / "flask")
PARTS = ("pages", "cli", "purge", "memory")
QUIET = {"RDNS_ENABLED": False, "RATELIMIT_ENABLED": False, "LOG_LEVEL": "WARNING"}
GOALS = {"pages": 2.0, "cli": 1.5, "purge": 1.5, "memory": 1.2}


@dataclass(frozen=True)
class Database:
    uri: str
    path: Path
    instance: Path
    visits: int
    submissions: int


@dataclass
class Row:
    measurement: str
    small: float
    large: float
    unit: str
    goal: float
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.large / self.small if self.small else float("inf")


def build(folder: Path, visits: int, submissions: int, reuse: bool = False) -> Database:
    path = folder / f"visits-{visits}.sqlite3"
    instance = folder / f"instance-{visits}"
    uri = f"sqlite:///{path}"
    if reuse and path.exists():
        return Database(uri, path, instance, visits, submissions)
    remove_database(path)
    shutil.rmtree(instance, ignore_errors=True)
    loaded = load(uri, instance, visits, submissions)
    print(f"built {visits:,} visits, {submissions:,} submissions in {loaded.seconds:.1f} s", flush=True)
    return Database(uri, path, instance, visits, submissions)


def remove_database(path: Path) -> None:
    """The file and its write-ahead log: a log left beside a new file of the same name would be replayed into it."""
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        file.unlink(missing_ok=True)


def copy_of(database: Database, folder: Path, name: str) -> Database:
    """A copy of the database, served with the same instance folder.

    SQLite's backup API copies what is still in the write-ahead log too: a copy of the main file
    alone, after the pages were served from it, is not a consistent database.
    """
    path = folder / f"{name}.sqlite3"
    remove_database(path)
    with closing(sqlite3.connect(database.path)) as source, closing(sqlite3.connect(path)) as target:
        source.backup(target)
    return Database(f"sqlite:///{path}", path, database.instance, database.visits, database.submissions)


# --- Pages, in-process --------------------------------------------------------------------------


def page_app(database: Database):
    return create_app(
        {"SECRET_KEY": TEST_KEY, "SQLALCHEMY_DATABASE_URI": database.uri, **QUIET},
        instance_path=str(database.instance),
    )


def fifty_visits_browser(app):
    """A test client that is the browser with 50 visits: the banner acknowledged, its visitor cookie set."""
    client = app.test_client()
    acknowledge_banner(client)
    with app.test_request_context():
        client.set_cookie("visitor", cookies.sign("visitor", FIFTY_VISITS_ID))
    return client


def timed_ms(get) -> float:
    """The milliseconds of one call of ``get``, whose answer must be a 200."""
    started = time.perf_counter()
    response = get()
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, (response.status_code, response.get_data(as_text=True)[:300])
    return elapsed * 1000


def pages_of(app) -> dict:
    """The measured pages of ``app``, each as a call that requests it once."""
    staff = signed_in(app, app.test_client(), name=f"scale-{os.getpid()}-{time.time_ns()}")
    browser = fifty_visits_browser(app)
    since = (utcnow() - timedelta(days=30)).date().isoformat()
    return {
        "staff dashboard (last 30 days)": lambda: staff.get("/admin/"),
        "visit log, path /checkout, last 30 days": lambda: staff.get(f"/admin/visits?path=/checkout&from={since}"),
        "visitor profile (50 visits)": lambda: staff.get(f"/admin/visitors/{FIFTY_VISITS_ID}"),
        "/my-data, the browser with 50 visits": lambda: browser.get("/my-data"),
        "/privacy, a new visitor": lambda: app.test_client().get("/privacy"),
    }


def page_times(small: Database, large: Database, runs: int) -> dict[str, tuple[float, float]]:
    """Per page, the median milliseconds at each size, the two sizes requested in turn after a warm-up each."""
    apps = [page_app(small), page_app(large)]
    at_small, at_large = (pages_of(app) for app in apps)
    found = {}
    for name in at_small:
        timed_ms(at_small[name]), timed_ms(at_large[name])
        pairs = [(timed_ms(at_small[name]), timed_ms(at_large[name])) for _ in range(runs)]
        found[name] = (median(p[0] for p in pairs), median(p[1] for p in pairs))
    for app in apps:
        visits.shutdown(app)
        with app.app_context():
            db.engine.dispose()
    return found


# --- The CLI's peak memory ----------------------------------------------------------------------


def cli_environment(database: Database) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name, value in {"SECRET_KEY": TEST_KEY, "SQLALCHEMY_DATABASE_URI": database.uri, **QUIET}.items():
        env[f"FLASK_{name}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def flask_command(database: Database, *args: str) -> list[str]:
    return [FLASK, "--app", f"webshop:create_app(instance_path={str(database.instance)!r})", *args]


def peak_rss(command: list[str], env: dict, log: Path) -> tuple[float, float]:
    """Run ``command``; its peak RSS in MB and its seconds.

    The peak is the child's own ``VmHWM``, read every 50 ms while it runs: ``ru_maxrss`` from ``wait4``
    would report this process's size instead, since a forked child starts with its parent's pages.
    """
    started = time.monotonic()
    peak = 0
    with open(log, "wb") as errors:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors)
        while process.poll() is None:
            peak = max(peak, status_kb(process.pid, "VmHWM") or 0)
            time.sleep(0.05)
    if process.returncode != 0:
        raise RuntimeError(f"{command[3:]} exited {process.returncode}: {log.read_text()[-2000:]}")
    return peak / 1024, time.monotonic() - started


def status_kb(pid: int, field: str) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) if match else None


def cli_memory(database: Database, folder: Path) -> dict[str, tuple[float, float]]:
    env = cli_environment(database)
    output = folder / f"export-{database.visits}.log"
    export = peak_rss(flask_command(database, "visits", "export", "-o", str(output)), env, folder / "export.err")
    output.unlink()
    purged = copy_of(database, folder, f"purge-{database.visits}")
    purge = peak_rss(
        flask_command(purged, "visits", "purge", "--older-than", "0"), cli_environment(purged), folder / "purge.err"
    )
    remove_database(purged.path)
    return {"flask visits export": export, "flask visits purge (every row)": purge}


# --- Serving during a purge ---------------------------------------------------------------------


# The niceness the purge runs at: 0, as a plain command line starts it, and 10, as the cron line in
# docs/operations.md starts it (``nice -n 10``).
PURGE_NICENESS = (0, 10)


@dataclass
class PurgeRound:
    quiet: dict  # wrk's figures without a purge
    during: dict[int, dict]  # per niceness, wrk's figures while a purge of every row runs
    throughout: dict[int, bool]  # per niceness, whether the purge was still running when wrk stopped


def purge_p99(database: Database, folder: Path, rounds: int, seconds: int) -> list[PurgeRound]:
    """Per round, on a fresh copy of the database: wrk on the product page without a purge, then while a
    purge of every row runs at each niceness of ``PURGE_NICENESS``. A purge still running when wrk
    stops is stopped: it commits per batch, so that is safe."""
    results = []
    for n in range(rounds):
        served = copy_of(database, folder, f"served-{n}")
        server = GunicornServer(folder / f"gunicorn-{n}", server_settings(served.uri) | {"SECRET_KEY": TEST_KEY},
                                workers=2, app=f"webshop:create_app(instance_path={str(served.instance)!r})")
        server.start()
        result = PurgeRound(quiet={}, during={}, throughout={})
        try:
            url = server.url + product_path(served.uri)
            wrk(url, 16, 1)  # warm up
            result.quiet = wrk(url, 16, seconds)
            # A 10 s purge deletes a few percent of the rows: the second purge of the round finds the same
            # kind of work. The order alternates from round to round.
            for niceness in PURGE_NICENESS[:: 1 if n % 2 == 0 else -1]:
                with open(folder / "purge-served.err", "wb") as errors:
                    purge = subprocess.Popen(
                        ["nice", "-n", str(niceness),
                         *flask_command(served, "visits", "purge", "--older-than", "0")],
                        env=cli_environment(served), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors,
                    )
                    result.during[niceness] = wrk(url, 16, seconds)
                    result.throughout[niceness] = purge.poll() is None
                    purge.terminate()
                    purge.wait()
        finally:
            server.stop()
        with closing(sqlite3.connect(served.path)) as check:
            integrity = check.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity == "ok":
            remove_database(served.path)
        else:  # kept for a closer look
            print(f"  round {n + 1}: the copy fails PRAGMA integrity_check, kept as {served.path}: "
                  f"{integrity.splitlines()[:3]}", flush=True)
        results.append(result)
        during = ", ".join(
            f"{result.during[nice]['p99_ms']:.1f} ms during a purge at nice {nice} "
            f"({'running throughout' if result.throughout[nice] else 'ended before wrk'}, "
            f"{result.during[nice]['rate']:.0f} req/s)"
            for nice in PURGE_NICENESS
        )
        print(f"  round {n + 1}: p99 {result.quiet['p99_ms']:.1f} ms without ({result.quiet['rate']:.0f} req/s), "
              f"{during}", flush=True)
    return results


# --- Worker memory under the mixed workload -------------------------------------------------------


def worker_growth(database: Database, folder: Path, requests: int, clients: int) -> tuple[dict, dict]:
    """Each worker's VmRSS in kB after a tenth of ``requests`` mixed requests and after all of them."""
    served = copy_of(database, folder, "soaked")
    server = GunicornServer(folder / "gunicorn-soak", server_settings(served.uri) | {"SECRET_KEY": TEST_KEY},
                            workers=2, app=f"webshop:create_app(instance_path={str(served.instance)!r})")
    server.start()
    try:
        load = Load(server.url, served.uri, clients).start()
        marks = {}
        for label, count in (("tenth", requests // 10), ("all", requests)):
            while load.tally.answered < count:
                time.sleep(0.2)
            marks[label] = worker_memory(server)
            print(f"  after {load.tally.answered:,} requests: "
                  + ", ".join(f"{rss / 1024:.1f} MB" for rss in marks[label].values()), flush=True)
        tally = load.stop()
        if tally.server_errors:
            print(f"  {tally.server_errors} answers were 5xx", flush=True)
    finally:
        server.stop()
    remove_database(served.path)
    return marks["tenth"], marks["all"]


# --- The table ------------------------------------------------------------------------------------


def table(rows: list[Row], small: Database, large: Database) -> str:
    lines = [
        f"| measurement | {small.visits:,} rows | {large.visits:,} rows | ratio | goal | met? |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        note = f" ({row.note})" if row.note else ""
        lines.append(
            f"| {row.measurement}{note} | {row.small:,.1f} {row.unit} | {row.large:,.1f} {row.unit} | "
            f"{row.ratio:.2f} | ≤ {row.goal} | {'yes' if row.ratio <= row.goal else 'no'} |"
        )
    return "\n".join(lines)


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=10_000, help="visit rows of the small database")
    parser.add_argument("--large", type=int, default=1_000_000, help="visit rows of the large database")
    parser.add_argument("--runs", type=int, default=7, help="requests timed per page and size (median)")
    parser.add_argument("--rounds", type=int, default=3, help="wrk pairs without / during a purge")
    parser.add_argument("--seconds", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--memory-requests", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=6, help="client threads of the mixed workload")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"which measurements (default: {','.join(PARTS)})")
    parser.add_argument("--keep", type=Path, help="build the databases in this folder and keep them")
    parser.add_argument("--reuse", action="store_true", help="with --keep: use the databases already built there")
    return parser


def measure_all(args) -> str:
    """Every measurement ``args`` asks for, at both sizes: the table."""
    parts = [part for part in args.parts.split(",") if part]
    if unknown := set(parts) - set(PARTS):
        sys.exit(f"unknown parts: {', '.join(sorted(unknown))}")
    if "purge" in parts and not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt install wrk)")

    folder = args.keep or Path(tempfile.mkdtemp(prefix="webshop-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        small = build(folder, args.small, args.small // 10, args.reuse)
        large = build(folder, args.large, args.large // 10, args.reuse)
        rows = []
        if "pages" in parts:
            print("pages ...", flush=True)
            rows += [Row(name, ms_small, ms_large, "ms", GOALS["pages"])
                     for name, (ms_small, ms_large) in page_times(small, large, args.runs).items()]
        if "cli" in parts:
            print("CLI peak RSS ...", flush=True)
            at_small, at_large = cli_memory(small, folder), cli_memory(large, folder)
            for name, (rss, seconds) in at_small.items():
                rss_large, seconds_large = at_large[name]
                rows.append(Row(f"{name}, peak RSS", rss, rss_large, "MB", GOALS["cli"],
                                f"{seconds:.1f} s / {seconds_large:.1f} s"))
        if "purge" in parts:
            print(f"product page p99 during a purge of {large.visits:,} rows ...", flush=True)
            results = purge_p99(large, folder, args.rounds, args.seconds)
            quiet = median(r.quiet["p99_ms"] for r in results)
            for nice in PURGE_NICENESS:
                ratios = [r.during[nice]["p99_ms"] / r.quiet["p99_ms"] for r in results]
                rows.append(Row(
                    f"product page p99, without / during a purge at nice {nice}", quiet,
                    median(r.during[nice]["p99_ms"] for r in results), "ms", GOALS["purge"],
                    f"wrk -c16 {args.seconds} s, {args.rounds} rounds, pair ratios {spread(ratios)}, "
                    f"purge running throughout in {sum(r.throughout[nice] for r in results)} of {len(results)}",
                ))
        if "memory" in parts:
            print(f"worker memory over {args.memory_requests:,} mixed requests ...", flush=True)
            tenth, every = worker_growth(small, folder, args.memory_requests, args.clients)
            for pid, rss in tenth.items():
                if pid in every:
                    rows.append(Row(f"worker {pid} VmRSS, {args.memory_requests // 10:,} → "
                                    f"{args.memory_requests:,} requests", rss / 1024, every[pid] / 1024, "MB",
                                    GOALS["memory"], "columns: after a tenth / after all"))
        return table(rows, small, large)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def main():
    print("\n" + measure_all(arguments().parse_args()))


if __name__ == "__main__":
    main()
