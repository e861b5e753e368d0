"""Behind Debian's nginx with deploy/nginx.conf: true client addresses, security headers, slow clients held off."""

import http.client
import re
import time

import pytest
from sqlalchemy import create_engine, text

from tests.support.gunicorn import GunicornServer
from tests.support.nginx import HOST, Nginx, render_site
from tests.support.ports import free_port
from tests.support.slow_headers import SlowHeaders, probe_during
from webshop.security import HEADERS

pytestmark = [pytest.mark.slow, pytest.mark.only_database("sqlite", "postgresql")]


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


ANSWERS = [
    ("/static/shop.css", "GET", None, 200),  # a file nginx serves from disk
    ("/static/no-such-file.css", "GET", None, 404),  # nginx's own error page
    ("/product/aurora-x1", "GET", None, 200),  # a page the app answers
    ("/contact", "POST", b"x" * 70_000, 413),  # refused by nginx before the app sees it
]


def test_every_answer_carries_each_security_header_once(stack):
    port, _, _ = stack
    for path, method, body, status in ANSWERS:
        connection = http.client.HTTPConnection("127.0.0.1", port, source_address=("127.0.0.47", 0), timeout=10)
        connection.request(method, path, body=body, headers={"Host": HOST})
        response = connection.getresponse()
        response.read()
        connection.close()
        assert response.status == status, path
        for name, value in HEADERS.items():
            assert response.headers.get_all(name) == [value], (path, name)


def test_a_hundred_slow_header_connections_leave_the_shop_answering(stack):
    """Slowloris: each connection sends one header line a second and never finishes its request."""
    port, _, _ = stack
    slow = SlowHeaders(port, count=100, interval=1.0, host=HOST).start()
    try:
        assert slow.connected == 100
        time.sleep(1)  # every slow connection is open and has sent a line
        # A generous timeout only tells "answered" from "stalled": sync workers
        # held by slow clients would answer none of these.
        probes = probe_during(port, ["/healthz", "/product/aurora-x1"], window=6, every=0.5, timeout=5, host=HOST)
        still_open = slow.count - slow.closed
    finally:
        slow.stop()
    # nginx closes them after client_header_timeout (10 s), later than this.
    assert still_open == 100, "the slow connections were open throughout"
    for path, results in probes.items():
        assert [status for status, _ in results] == [200] * len(results), path
