"""A short soak on each database: mixed workload, several gunicorn workers, nothing lost.

The full-length run is ``bench/soak.py``; this is the same workload for a
few seconds, so CI holds the shop to it on every change.
"""

import pytest

from bench.soak import FORM_KINDS, soak

pytestmark = [pytest.mark.soak, pytest.mark.slow]

SECONDS = 8
CLIENTS = 4
WORKERS = 3
# A leak check, not a performance figure: a worker that keeps every request
# it served would grow by far more than this in a soak.
MAX_GROWTH_KB = 50 * 1024


def test_mixed_workload_serves_everything_and_loses_nothing(database, instance_path):
    report = soak(database, instance_path, seconds=SECONDS, clients=CLIENTS, workers=WORKERS)
    print(report.summary())
    tally = report.tally

    assert tally.answered > 0 and tally.failed == 0 and not tally.cut_off
    assert tally.server_errors == 0
    # Every step answered as a browser expects: pages 200, forms 303, chat 201.
    assert set(tally.statuses) <= {200, 201, 303}, tally.statuses
    assert not tally.flows_broken, tally.flows_broken

    assert report.rows_recorded == tally.answered_recorded  # one row per served request, none twice

    assert set(report.accepted_kinds) == set(FORM_KINDS)  # every form was used
    assert report.missing == [] and report.present == report.accepted
    assert report.submissions_stored == report.accepted  # each form filled in stored exactly once

    assert report.memory_start and set(report.memory_start) == set(report.memory_end)
    for pid, growth in report.memory_growth_kb.items():
        assert growth < MAX_GROWTH_KB, f"worker {pid} grew by {growth} kB"

    assert report.integrity in (None, "ok")
    assert report.returncode == 0 and not report.log_problems
