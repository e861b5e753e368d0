"""Debian's redis-server on a loopback port, in a temporary folder, for the shared rate-limit counters."""

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.support import processes
from tests.support.ports import free_port


class RedisServer:
    """``redis-server`` on 127.0.0.1 with nothing saved to disk; stopped by its process group."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.port = free_port()
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [
            shutil.which("redis-server") or "/usr/bin/redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.folder),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
        ]
        with open(self.folder / "redis.log", "wb") as log:
            self.process = processes.start(command, "redis", signal.SIGTERM, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        processes.stop(self.process, signal.SIGKILL)
        raise RuntimeError((self.folder / "redis.log").read_text() or "redis-server did not start")

    def stop(self):
        if self.process:
            processes.stop(self.process)
