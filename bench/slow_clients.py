"""Slow clients against the shop's server options, side by side in one run.

For each variant (gunicorn's sync worker, its gthread worker, and nginx with
deploy/nginx.conf in front of the sync worker) this starts a fresh server,
opens N slow-header connections from their own 127.0.0.x addresses (one
header line every INTERVAL seconds, never finishing), and probes /healthz
and the product page meanwhile: how many probes were answered within the
probe timeout, and the slowest answer. It then measures throughput on the
product page with wrk, as ``--rounds`` rounds that each run every variant
back to back; the table shows the median rate and the median ratio to sync.

    .venv/bin/python bench/slow_clients.py [--duration 3] [--rounds 3] [--threads 8] [--window 10]
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.visits import product_path, wrk  # noqa: E402
from tests.conftest import build_schema  # noqa: E402
from tests.support.gunicorn import GunicornServer  # noqa: E402
from tests.support.nginx import HOST, Nginx, render_site  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.slow_headers import SlowHeaders, probe_during  # noqa: E402

WORKERS = 2
PROBE_TIMEOUT = 5.0
# (connections, seconds between header lines): the two-connection stall, and a hundred.
ATTACKS = [(2, 5.0), (100, 1.0)]


class Variant:
    """One way of serving the shop: a gunicorn worker class, with or without nginx in front."""

    def __init__(self, label: str, worker_class: str, threads: int = 1, nginx: bool = False):
        self.label = label
        self.worker_class = worker_class
        self.threads = threads
        self.nginx = nginx
        self.server = None
        self.proxy = None
        self.port = None

    def start(self, uri: str, folder: Path):
        settings = {
            "SECRET_KEY": "bench-only-key",
            "SQLALCHEMY_DATABASE_URI": uri,
            "LOG_LEVEL": "WARNING",
            "RDNS_ENABLED": False,
            "TRUSTED_HOSTS": [HOST, "127.0.0.1"],
            "RATELIMIT_ENABLED": False,
        }
        if self.nginx:
            settings["TRUSTED_PROXIES"] = 1
        self.server = GunicornServer(folder / "instance", settings, workers=WORKERS)
        self.server.env["GUNICORN_WORKER_CLASS"] = self.worker_class
        self.server.env["GUNICORN_THREADS"] = str(self.threads)
        self.server.start()
        self.port = self.server.port
        if self.nginx:
            self.port = free_port()
            self.proxy = Nginx(folder / "nginx", render_site(self.port, self.server.port), worker_connections=1024)
            self.proxy.start(self.port)
        return self

    def stop(self):
        if self.proxy:
            self.proxy.stop()
        self.server.stop()

    @property
    def host(self) -> str:
        return HOST if self.nginx else "127.0.0.1"


def attack(variant: Variant, path: str, count: int, interval: float, window: float) -> dict:
    """Probe /healthz and ``path`` for ``window`` seconds while ``count`` slow-header connections are open."""
    slow = SlowHeaders(variant.port, count, interval, host=variant.host).start()
    try:
        time.sleep(0.5)  # every slow connection has been accepted (or queued) by now
        results = probe_during(variant.port, ["/healthz", path], window, timeout=PROBE_TIMEOUT, host=variant.host)
    finally:
        slow.stop()

    def summary(probes):
        answered = [seconds for status, seconds in probes if status == 200]
        slowest = f"{max(answered):.2f} s" if answered else "—"
        return f"{len(answered)}/{len(probes)}", slowest

    return {
        "healthz": summary(results["/healthz"]),
        "product": summary(results[path]),
        "connected": slow.connected,
        "closed": slow.closed,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="wrk rounds over every variant (default 3)")
    parser.add_argument("--threads", type=int, default=8, help="threads per gthread worker (default 8)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--window", type=float, default=10, help="seconds of probing per attack (default 10)")
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists():
        sys.exit("needs wrk and nginx (apt install wrk nginx)")

    variants = [
        Variant(f"gunicorn sync ×{WORKERS}", "sync"),
        Variant(f"gunicorn gthread ×{WORKERS}, {args.threads} threads", "gthread", args.threads),
        Variant(f"nginx → gunicorn sync ×{WORKERS}", "sync", nginx=True),
    ]
    base = Path(tempfile.mkdtemp(prefix="webshop-slow-"))
    runs = 0

    def fresh(variant):
        nonlocal runs
        runs += 1
        return variant.start(uri, base / f"run-{runs}")

    try:
        (base / "db").mkdir()
        uri = f"sqlite:///{base / 'db' / 'webshop.sqlite3'}"
        build_schema(uri, base / "db")
        path = product_path(uri)

        attacks = []
        for count, interval in ATTACKS:
            for variant in variants:
                fresh(variant)
                try:
                    result = attack(variant, path, count, interval, args.window)
                finally:
                    variant.stop()
                attacks.append((variant.label, count, interval, result))
                print(f"  {variant.label:<36} {count:>3} slow @ {interval:.0f} s: {result}", flush=True)

        rates = {variant.label: [] for variant in variants}
        for _ in range(args.rounds):
            for variant in variants:
                fresh(variant)
                url = f"http://127.0.0.1:{variant.port}{path}"
                script = None
                if variant.nginx:
                    script = base / "host.lua"
                    script.write_text(f'wrk.headers["Host"] = "{HOST}"\n')
                try:
                    wrk(url, args.connections, 1, script)  # warm up
                    result = wrk(url, args.connections, args.duration, script)
                finally:
                    variant.stop()
                rates[variant.label].append(result["rate"])
                print(f"  {variant.label:<36} {result['rate']:>8.0f} req/s  p99 {result['p99_ms']:.1f} ms", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    sync = rates[variants[0].label]
    print(f"\nSlow-header connections, {args.window:.0f} s of probes (timeout {PROBE_TIMEOUT:.0f} s) each:")
    print("\n| server | slow connections | /healthz answered | slowest | product page answered | slowest |")
    print("|---|---|---|---|---|---|")
    for label, count, interval, result in attacks:
        print(f"| {label} | {count}, a line every {interval:.0f} s | {result['healthz'][0]} | {result['healthz'][1]} "
              f"| {result['product'][0]} | {result['product'][1]} |")
    print(f"\nwrk -c{args.connections} on {path}, {args.duration} s per run, median of {args.rounds} rounds:")
    print("\n| server | req/s | × sync (median of the rounds' ratios) | spread |")
    print("|---|---|---|---|")
    for label, values in rates.items():
        ratios = [value / base_rate for value, base_rate in zip(values, sync, strict=True)]
        print(f"| {label} | {median(values):,.0f} | **{median(ratios):.2f}** | {min(ratios):.2f}–{max(ratios):.2f} |")


if __name__ == "__main__":
    main()
