"""An interrupted test run stops every server it started: nothing of it is left running.

Each case runs a real pytest, with this suite's conftest, on a small module
whose test starts PostgreSQL, the shop under gunicorn on it, and nginx in
front, then sleeps. Once all of them answer, the run gets SIGTERM (as from a
service manager or CI's timeout, also under pytest-xdist, where the workers
started the servers) or SIGINT (Ctrl-C). Afterwards no process of the run
may remain: not one of the pids it reported, nothing whose command line
names the run's folders, and nothing listening on its ports.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support import processes
from tests.support.nginx import HOST

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

SERVING = """
import json
import os
import time
from pathlib import Path

import pytest

from tests.support.gunicorn import GunicornServer
from tests.support.nginx import HOST, Nginx, render_site
from tests.support.ports import free_port
from tests.support.postgres import PostgresServer


def children(pid):
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.mark.parametrize("copy", [1, 2])  # under -n 2, one on each worker
def test_serves_until_interrupted(copy, tmp_path):
    postgres = PostgresServer()
    postgres.start()
    settings = {"SQLALCHEMY_DATABASE_URI": postgres.url(), "TRUSTED_PROXIES": 1, "TRUSTED_HOSTS": [HOST, "127.0.0.1"]}
    shop = GunicornServer(tmp_path / "instance", settings, workers=1).start()
    port = free_port()
    proxy = Nginx(tmp_path / "nginx", render_site(port, shop.port)).start(port)
    postmaster = int((postgres.data / "postmaster.pid").read_text().split()[0])
    report = {
        "pids": [os.getpid(), shop.process.pid, *shop.worker_pids(), proxy.process.pid,
                 *children(proxy.process.pid), postmaster, *children(postmaster)],
        "folders": [str(tmp_path), str(postgres.base)],
        "ports": {"shop": shop.port, "proxy": port, "postgres": postgres.port},
    }
    written = Path(os.environ["REPORTS"]) / f"{os.getpid()}-{copy}.json"
    Path(f"{written}.part").write_text(json.dumps(report))
    os.replace(f"{written}.part", written)  # the whole report at once
    time.sleep(60)
    proxy.stop()  # never reached: the run is interrupted while the servers run
    shop.stop()
    postgres.remove()
"""

RUNS = {
    "SIGTERM": (signal.SIGTERM, ["-n", "0"], 1),
    "SIGINT": (signal.SIGINT, ["-n", "0"], 1),
    "SIGTERM under xdist": (signal.SIGTERM, ["-n", "2"], 2),
}


def start_run(folder: Path, options: list[str]) -> subprocess.Popen:
    """A pytest of this suite's configuration on the serving module, in a session of its own (no terminal)."""
    (folder / "test_serving.py").write_text(SERVING)
    (folder / "reports").mkdir()
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    env.update(REPORTS=str(folder / "reports"), PYTHONPATH=str(ROOT))
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(folder / "test_serving.py"),
        "-p",
        "tests.conftest",
        "-c",
        str(ROOT / "pyproject.toml"),
        "--rootdir",
        str(folder),
        "--basetemp",
        str(folder / "tmp"),
        "-p",
        "no:cacheprovider",
        "-q",
        *options,
    ]
    with open(folder / "pytest.log", "wb") as log:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def read_reports(folder: Path) -> list[dict]:
    return [json.loads(report.read_text()) for report in sorted((folder / "reports").glob("*.json"))]


def wait_for_reports(run: subprocess.Popen, folder: Path, count: int) -> list[dict]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        reports = read_reports(folder)
        if len(reports) == count:
            return reports
        assert run.poll() is None, (folder / "pytest.log").read_text()
        time.sleep(0.1)
    raise AssertionError(f"the servers did not come up: {(folder / 'pytest.log').read_text()}")


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


def healthy(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``/healthz`` on ``port`` answers 200: the shop is up and reaches its database."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def left_running(folder: Path, reports: list[dict]) -> list[str]:
    """Each process of the run still alive, by pid or by a folder of the run in its command line."""
    pids = {pid for report in reports for pid in report["pids"]}
    folders = [f"{folder}/".encode(), *(path.encode() for report in reports for path in report["folders"])]
    found = []
    for pid, _ppid, _pgrp in processes.process_table():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if pid in pids or any(path in command for path in folders):
            found.append(f"{pid}: {command.decode(errors='replace')}")
    return found


@pytest.mark.parametrize("case", RUNS)
def test_an_interrupted_run_stops_every_server_it_started(tmp_path, case):
    signum, options, servers = RUNS[case]
    run = start_run(tmp_path, options)
    try:
        reports = wait_for_reports(run, tmp_path, servers)
        for report in reports:
            ports = report["ports"]
            assert healthy(ports["shop"]) and healthy(ports["proxy"], HOST) and listening(ports["postgres"])

        run.send_signal(signum)
        signalled = time.monotonic()
        run.wait(timeout=60)
        print(f"{case}: the run ended {time.monotonic() - signalled:.1f} s after the signal")

        log = (tmp_path / "pytest.log").read_text()
        assert left_running(tmp_path, reports) == [], log
        for report in reports:
            assert not any(listening(port) for port in report["ports"].values()), log
        if signum == signal.SIGTERM:
            assert run.returncode == -signal.SIGTERM, log  # then the signal still ends the run, as it would have
        else:
            assert run.returncode == pytest.ExitCode.INTERRUPTED, log
    finally:
        # Whatever a failing case left behind is this test's to end: the run first, as a service manager would.
        if run.poll() is None:
            run.send_signal(signal.SIGTERM)
            try:
                run.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(run.pid, signal.SIGKILL)
                run.wait()
        reports = read_reports(tmp_path)
        for line in left_running(tmp_path, reports):
            try:
                os.kill(int(line.split(":")[0]), signal.SIGKILL)
            except ProcessLookupError:
                pass
        for report in reports:
            shutil.rmtree(report["folders"][1], ignore_errors=True)  # the PostgreSQL cluster's folder
