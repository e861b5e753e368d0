"""A real gunicorn serving webshop from a temporary instance folder, for tests and benchmarks."""

import os
import signal
import sys
import time
import urllib.request
from pathlib import Path

from tests.support import processes
from tests.support.apps import TEST_KEY
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).parent / "gunicorn")


class GunicornServer:
    """``gunicorn -c gunicorn.conf.py`` on 127.0.0.1 with FLASK_* settings in its environment.

    Like every app the suite builds, it signs with the suite's key unless the settings name another:
    a database that an app of the suite has opened records that key, and a host with any other
    key refuses to start on it (webshop/signing_keys.py).
    """

    def __init__(self, instance: Path, settings: dict, workers: int = 2, app: str | None = None):
        self.instance = Path(instance)
        self.port = free_port()
        self.workers = workers
        self.app = app or f"webshop:create_app(instance_path={str(self.instance)!r})"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for name, value in {"SECRET_KEY": TEST_KEY, **settings}.items():
            self.env[f"FLASK_{name}"] = value if isinstance(value, str) else _json(value)
        self.log = self.instance / "gunicorn.log"
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        """Launch gunicorn and wait until it answers ``/healthz``."""
        return self.launch().wait_ready()

    def launch(self):
        """Launch gunicorn without waiting for it (``wait_ready`` does), so several can boot at once."""
        self.instance.mkdir(parents=True, exist_ok=True)
        command = [
            GUNICORN,
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--no-control-socket",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            self.app,
        ]
        with open(self.log, "ab") as log:
            # SIGQUIT is gunicorn's quick stop, for a run that is interrupted (tests/support/processes.py).
            self.process = processes.start(
                command, "gunicorn", signal.SIGQUIT, cwd=ROOT, env=self.env, stdout=log, stderr=log
            )
        return self

    def wait_ready(self, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError("gunicorn did not come up")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return [int(pid) for pid in children.split()]

    def stop(self, timeout: float = 60):
        """Graceful stop (SIGTERM to the master), as a service manager does it."""
        self.terminate()
        self.wait_stopped(timeout)

    def terminate(self):
        """Send the graceful stop without waiting for it (``wait_stopped`` does)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout: float = 60):
        if self.process and self.process.poll() is None:
            self.process.wait(timeout=timeout)
        self.kill()  # nothing is left of the group by now; this forgets it

    def kill(self):
        """SIGKILL the master and every worker."""
        if self.process:
            processes.stop(self.process, signal.SIGKILL)


def _json(value) -> str:
    import json

    return json.dumps(value)
