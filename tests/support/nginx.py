"""Debian's nginx running deploy/nginx.conf for loopback, in front of a test gunicorn, for tests and benchmarks."""

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.support import processes

ROOT = Path(__file__).resolve().parents[2]
HOST = "shop.example.org"


def render_site(listen_port: int, *app_ports: int) -> str:
    """deploy/nginx.conf with only the ports and the static folder replaced.

    With two app ports, its upstream is deploy/nginx-two-hosts.conf's, as the
    operations guide says to set it up for two hosts.
    """
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    if len(app_ports) == 1:
        site = site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_ports[0]};")
    else:
        upstream = (ROOT / "deploy" / "nginx-two-hosts.conf").read_text()
        for address, port in zip(("10.0.0.11:8000", "10.0.0.12:8000"), app_ports, strict=True):
            upstream = upstream.replace(f"server {address} ", f"server 127.0.0.1:{port} ")
        start = site.index("upstream webshop_app {")
        site = site[:start] + upstream[upstream.index("upstream webshop_app {") :] + site[site.index("}", start) + 1 :]
    site = site.replace("listen 80 default_server;", f"listen 127.0.0.1:{listen_port} default_server;")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{listen_port};")
    site = site.replace("/srv/webshop/webshop/static/", f"{ROOT}/webshop/static/")
    assert site.count(str(listen_port)) == 2 and all(str(port) in site for port in app_ports)
    return site


class Nginx:
    """``nginx -c`` with a minimal http block that includes the rendered site; temp files in ``folder``."""

    def __init__(self, folder: Path, site: str, worker_connections: int = 256):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "site.conf").write_text(site)
        (folder / "nginx.conf").write_text(
            f"""
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections {worker_connections}; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/site.conf;
}}
"""
        )
        self.process = None

    def start(self, port: int):
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        with open(self.folder / "stderr.log", "wb") as log:
            self.process = processes.start(
                [nginx, "-c", str(self.folder / "nginx.conf"), "-p", str(self.folder)],
                "nginx",
                signal.SIGTERM,  # nginx's fast shutdown
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        processes.stop(self.process, signal.SIGKILL)
        raise RuntimeError((self.folder / "stderr.log").read_text() or "nginx did not start")

    def reload(self, site: str) -> None:
        """Serve ``site`` from now on (SIGHUP, as ``nginx -s reload``); returns once the new workers answer."""
        (self.folder / "site.conf").write_text(site)
        old = set(self.worker_pids())
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            current = set(self.worker_pids())
            if current and not current & old:
                return
            time.sleep(0.05)
        raise RuntimeError((self.folder / "error.log").read_text()[-2000:] or "nginx did not reload")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return [int(pid) for pid in children.split()]

    def stop(self):
        """Graceful stop (SIGQUIT): open requests are answered first."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            self.process.wait(timeout=10)
        if self.process:
            processes.stop(self.process)  # nothing is left of the group by now; this forgets it
