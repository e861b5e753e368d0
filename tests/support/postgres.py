"""A throwaway PostgreSQL cluster started with Debian's ``pg_ctl``, for tests and benchmarks."""

import glob
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.support import processes
from tests.support.ports import free_port


def pg_binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"{name} not found: install Debian's postgresql package (make test-deps)")
    return found[-1]


class PostgresServer:
    """A throwaway PostgreSQL cluster in a temporary directory, on 127.0.0.1."""

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="webshop-pg-"))
        self.data = self.base / "data"
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.base, "postgres", "postgres")
        self.postmaster = None  # its entry in tests/support/processes.py, from the first start on
        self._admin = None  # the engine of admin(), while the server runs

    def run(self, *args):
        subprocess.run([*self.as_user, *args], check=True, capture_output=True)

    def start(self):
        self.run(pg_binary("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.resume()

    def options(self) -> str:
        return (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )

    def pg_ctl(self, *args):
        self.run(pg_binary("pg_ctl"), "-D", str(self.data), *args)

    def stop(self):
        self._forget_admin()
        self.pg_ctl("stop", "-m", "fast", "-w")

    def resume(self):
        """Start the cluster (again, after :meth:`stop`: same data directory, same port)."""
        with processes.holding_signals():
            if self.postmaster is None:
                # SIGQUIT is PostgreSQL's immediate shutdown, what ``pg_ctl stop -m immediate`` sends.
                self.postmaster = processes.watch(self.data / "postmaster.pid", "postgres", signal.SIGQUIT)
            self.pg_ctl("start", "-w", "-l", str(self.base / "server.log"), "-o", self.options())

    def url(self, database="postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database="postgres") -> str:
        """The same address as :meth:`url`, for psycopg itself."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> list | None:
        """Run ``sql`` on the ``postgres`` database, outside a transaction (CREATE/DROP DATABASE); its rows, if any.

        One connection is kept for all of them (the suite renames or drops a database after each test);
        a stop of the server closes it, and the next call connects again.
        """
        if self._admin is None:
            self._admin = create_engine(self.url(), isolation_level="AUTOCOMMIT", pool_size=1, pool_pre_ping=True)
        with self._admin.connect() as conn:
            result = conn.execute(text(sql))
            return result.all() if result.returns_rows else None

    def _forget_admin(self):
        if self._admin is not None:
            self._admin.dispose()
            self._admin = None

    def remove(self):
        """Immediate shutdown (whatever has stopped it already), then the cluster's files go."""
        self._forget_admin()
        if self.postmaster is not None:
            processes.stop(self.postmaster)
            self.postmaster = None
        shutil.rmtree(self.base, ignore_errors=True)
