"""Behind Debian's nginx with deploy/nginx.conf: true client addresses, no forged ones."""

import http.client
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.gunicorn_server import GunicornServer
from tests.helpers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.only_database("sqlite", "postgresql")]

ROOT = Path(__file__).resolve().parent.parent
HOST = "shop.example.org"


def render_site(listen_port: int, app_port: int) -> str:
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    site = site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};")
    site = site.replace("listen 80 default_server;", f"listen 127.0.0.1:{listen_port} default_server;")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{listen_port};")
    site = site.replace("/srv/webshop/webshop/static/", f"{ROOT}/webshop/static/")
    assert site.count(str(listen_port)) == 2 and str(app_port) in site
    return site


class Nginx:
    def __init__(self, folder: Path, site: str):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "site.conf").write_text(site)
        (folder / "nginx.conf").write_text(
            f"""
daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
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
            self.process = subprocess.Popen(
                [nginx, "-c", str(self.folder / "nginx.conf"), "-p", str(self.folder)],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError((self.folder / "stderr.log").read_text() or "nginx did not start")

    def stop(self):
        self.process.send_signal(signal.SIGQUIT)
        self.process.wait(timeout=10)


@pytest.fixture
def stack(database, instance_path, tmp_path, runner):
    app_server = GunicornServer(
        instance_path,
        {
            "SQLALCHEMY_DATABASE_URI": database,
            "RDNS_ENABLED": False,
            "TRUSTED_PROXIES": 1,
            "TRUSTED_HOSTS": [HOST, "127.0.0.1"],
        },
        workers=2,
    ).start()
    port = free_port()
    nginx = Nginx(tmp_path / "nginx", render_site(port, app_server.port))
    nginx.start(port)
    yield port, app_server, database
    nginx.stop()
    app_server.stop()


def get(port, path, source, headers=None, host=HOST):
    connection = http.client.HTTPConnection("127.0.0.1", port, source_address=(source, 0), timeout=10)
    connection.request("GET", path, headers={"Host": host, **(headers or {})})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def visits(database):
    engine = create_engine(database)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT ip, path, query FROM visit ORDER BY id")).all()
    engine.dispose()
    return rows


def test_recorded_ip_is_the_real_source_address_not_a_forged_header(stack):
    port, app_server, database = stack
    response, _ = get(port, "/?probe=plain", "127.0.0.42")
    assert response.status == 200
    response, _ = get(
        port,
        "/?probe=forged",
        "127.0.0.43",
        headers={"X-Forwarded-For": "203.0.113.66", "X-Real-IP": "203.0.113.67"},
    )
    assert response.status == 200
    app_server.stop()
    recorded = {query: ip for ip, path, query in visits(database) if query.startswith("probe=")}
    assert recorded == {"probe=plain": "127.0.0.42", "probe=forged": "127.0.0.43"}


def test_scheme_comes_from_the_proxy_not_from_the_client(stack):
    port, _, _ = stack
    response, _ = get(port, "/product/aurora-x1", "127.0.0.44", headers={"X-Forwarded-Proto": "https"})
    cookies = response.headers.get_all("Set-Cookie") or []
    assert cookies, "the product page sets the session cookie for its form"
    assert not any(re.search(r";\s*Secure", c, re.I) for c in cookies)


def test_foreign_host_is_refused_by_nginx_and_by_the_app(stack):
    port, app_server, _ = stack
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        get(port, "/", "127.0.0.45", host="evil.example")  # nginx closes (444)
    response, body = get(app_server.port, "/", "127.0.0.45", host="evil.example")
    assert response.status == 400


def test_static_files_are_served_by_nginx_and_not_recorded(stack):
    port, app_server, database = stack
    response, body = get(port, "/static/shop.css", "127.0.0.46")
    assert response.status == 200 and b"--accent" in body
    app_server.stop()
    assert not [row for row in visits(database) if row.path.startswith("/static/")]
