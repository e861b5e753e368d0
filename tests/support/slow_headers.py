"""Slow-header ("slowloris") clients: connections that send a request header one line at a time, never finishing."""

import http.client
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor


class SlowHeaders:
    """``count`` connections to ``port``, each from its own 127.0.0.x address, one header line every ``interval`` s.

    A single thread drives every connection, so a hundred of them cost the
    test process almost nothing. ``closed`` counts the connections the
    server has closed (a send failed), ``connected`` the ones that were
    opened at all.
    """

    def __init__(self, port: int, count: int, interval: float = 1.0, host: str = "127.0.0.1", first_source: int = 10):
        self.port = port
        self.count = count
        self.interval = interval
        self.host = host
        self.first_source = first_source
        self.sockets: list[socket.socket | None] = []
        self.connected = 0
        self.closed = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="slow-headers", daemon=True)

    def source(self, index: int) -> str:
        number = self.first_source + index
        return f"127.0.{number // 250}.{number % 250 + 2}"

    def start(self):
        for index in range(self.count):
            try:
                source = (self.source(index), 0)
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=2, source_address=source)
                sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {self.host}\r\n".encode())
                self.sockets.append(sock)
                self.connected += 1
            except OSError:
                self.sockets.append(None)
        self.thread.start()
        return self

    def run(self):
        line = 0
        while not self.stopping.wait(self.interval):
            line += 1
            for index, sock in enumerate(self.sockets):
                if sock is None:
                    continue
                try:
                    sock.sendall(f"X-Slow-{line}: {'a' * 8}\r\n".encode())
                except OSError:
                    sock.close()
                    self.sockets[index] = None
                    self.closed += 1

    def stop(self):
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=self.interval + 5)
        for sock in self.sockets:
            if sock is not None:
                sock.close()


def probe(port: int, path: str, host: str = "127.0.0.1", source: str = "127.0.0.1", timeout: float = 5.0):
    """One GET; returns (status, seconds) or (None, seconds) if it was not answered within ``timeout``."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, source_address=(source, 0), timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    except OSError:
        return None, time.monotonic() - started
    finally:
        connection.close()


def probe_during(
    port: int, paths: list[str], window: float, every: float = 0.5, timeout: float = 5.0, host: str = "127.0.0.1"
) -> dict[str, list[tuple[int | None, float]]]:
    """GET each of ``paths`` every ``every`` seconds for ``window`` seconds, each probe on its own connection.

    The probes start on schedule whether or not the earlier ones were
    answered, so a stalled server shows as stalled probes, not as fewer.
    """
    started = time.monotonic()
    futures = {path: [] for path in paths}
    with ThreadPoolExecutor(max_workers=len(paths) * (int(timeout / every) + 2)) as pool:
        tick = 0
        while tick * every < window:
            time.sleep(max(0.0, started + tick * every - time.monotonic()))
            for path in paths:
                futures[path].append(pool.submit(probe, port, path, host, "127.0.0.1", timeout))
            tick += 1
    return {path: [future.result() for future in results] for path, results in futures.items()}
