"""Every performance goal in one run: the plain-shop anchor and the growth of cost with the data.

Runs, one after the other on the same machine:

1. bench/anchor.py on SQLite and PostgreSQL: the product page, recording on
   and off, the cart-add and checkout POSTs against the plain Flask shop, and
   p99 with a black-hole resolver;
2. bench/scale.py: the pages, the CLI's memory, serving during a purge and
   worker memory, at 10,000 against 1,000,000 visit rows;
3. bench/profile_requests.py's function calls, CPU and instructions per
   request, webshop against the plain shop.

and prints their tables together, each ratio beside its goal. Nothing is
asserted: the figures go into bench/RESULTS.md. A full run takes about an
hour on two cores; options are passed through to each part:

    .venv/bin/python bench/goals.py
    .venv/bin/python bench/goals.py --rounds 3 --large 100000 --memory-requests 10000   # a quicker look
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import anchor, scale  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="back-to-back pairs of the anchor (default 5)")
    parser.add_argument("--large", type=int, default=1_000_000, help="visit rows of the large database")
    parser.add_argument("--memory-requests", type=int, default=100_000, help="mixed requests for worker memory")
    args = parser.parse_args()

    started = time.monotonic()
    print("== Against the plain shop ==", flush=True)
    against = anchor.measure_all(anchor.arguments().parse_args(["--postgresql", "--rounds", str(args.rounds)]))
    print("\n== As the data grows ==", flush=True)
    grows = scale.measure_all(
        scale.arguments().parse_args(["--large", str(args.large), "--memory-requests", str(args.memory_requests)])
    )
    print("\n== Where a request's time goes ==", flush=True)
    profiled = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "profile_requests.py"), "--instructions", "100"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()

    print(f"\n# Every goal, one run ({(time.monotonic() - started) / 60:.0f} min)\n")
    print("## Against the plain shop (goals: product page ≥ 0.90, recording on / off ≥ 0.97 and CPU +3 % at")
    print("## most, cart-add and checkout ≥ 0.9, p99 with a black-hole resolver ≤ 1.1)\n")
    print(against)
    print("\n## As the data grows\n")
    print(grows)
    print("\n## Function calls, CPU and instructions per request, in-process\n")
    print(profiled)


if __name__ == "__main__":
    main()
