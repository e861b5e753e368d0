"""Visit recording under a real gunicorn with several workers, on SQLite and PostgreSQL."""

import http.client
import os
import signal
import threading
import urllib.request

import pytest
from sqlalchemy import create_engine, text

from tests.support.gunicorn import GunicornServer

pytestmark = pytest.mark.slow

THREADS = 16
PER_THREAD = 30


def load(url: str, threads: int, per_thread: int, during=None) -> tuple[set[str], int]:
    """Send numbered requests from ``threads`` threads; the queries answered and the failures."""
    answered: set[str] = set()
    failures = 0
    lock = threading.Lock()

    def run(thread):
        nonlocal failures
        for n in range(per_thread):
            query = f"n={thread}-{n}"
            try:
                with urllib.request.urlopen(f"{url}?{query}", timeout=30) as response:
                    ok = response.status == 200
                    response.read()
            except (http.client.HTTPException, OSError):  # URLError is an OSError
                # A worker killed mid-response drops the connection before, during or after the
                # status line: the request counts as failed, never as an unhandled error.
                ok = False
            with lock:
                if ok:
                    answered.add(query)
                else:
                    failures += 1
            if during and thread == 0 and n == per_thread // 3:
                during()

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return answered, failures


def recorded_queries(database: str) -> list[str]:
    engine = create_engine(database)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT query FROM visit WHERE path LIKE '/product/%'"))
        queries = [row[0] for row in rows]
    engine.dispose()
    return queries


def product_url(server) -> str:
    engine = create_engine(server.env["FLASK_SQLALCHEMY_DATABASE_URI"])
    with engine.connect() as conn:
        slug = conn.execute(text("SELECT slug FROM product WHERE active ORDER BY id LIMIT 1")).scalar_one()
    engine.dispose()
    return f"{server.url}/product/{slug}"


@pytest.fixture
def server(database, instance_path):
    server = GunicornServer(instance_path, {"SQLALCHEMY_DATABASE_URI": database, "RDNS_ENABLED": False}, workers=3)
    server.start()
    yield server
    server.kill()


def test_every_served_request_has_its_row_and_sigterm_loses_none(server, database):
    answered, failures = load(product_url(server), THREADS, PER_THREAD)
    server.stop()
    assert server.process.returncode == 0
    assert failures == 0 and len(answered) == THREADS * PER_THREAD
    queries = recorded_queries(database)
    assert sorted(queries) == sorted(answered)  # every one, once
    log = server.log.read_text()
    assert "database is locked" not in log and "Traceback" not in log


def test_a_worker_killed_mid_load_loses_no_served_row(server, database):
    def kill_one_worker():
        os.kill(server.worker_pids()[0], signal.SIGKILL)

    answered, failures = load(product_url(server), THREADS, PER_THREAD, during=kill_one_worker)
    server.stop()
    queries = recorded_queries(database)
    assert len(queries) == len(set(queries))  # replaying the spool stored nothing twice
    assert answered <= set(queries)  # every answered request has its row
    assert len(answered) + failures == THREADS * PER_THREAD
