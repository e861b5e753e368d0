"""The combined export and the report, read by Debian's real ``goaccess``.

GoAccess is what an operator actually pipes the export into; a line it
rejects is a visit missing from their report. These tests make the awkward
rows a real log has (a blocking signal with no address, confirmed and
unconfirmed domain names, IPv6, escaped quotes and controls, non-ASCII) and
ask GoAccess itself how many lines it failed to parse.
"""

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from webshop.models import utcnow
from webshop.visits import flush
from webshop.visits.writer import store_rows

GOACCESS = shutil.which("goaccess")


@pytest.fixture
def awkward_visits(app, client):
    """Twelve visits: real requests through the app, plus rows with domain names as rDNS stores them."""
    client.get(
        "/search?q=a+b",
        environ_base={"HTTP_USER_AGENT": 'Evil "Agent"\\\n\x07', "HTTP_REFERER": "http://ref.example/p"},
    )
    client.get("/no-such-page", headers={"User-Agent": "Ünïcode/1.0"})
    client.get("/", headers={"Sec-GPC": "1"})  # stored without an address
    client.get("/", headers={"DNT": "1"})
    client.get("/product/%E2%98%83?x=%22")
    client.get("/cart", headers={"User-Agent": ""})
    flush(app)
    base = {
        "method": "GET",
        "path": "/",
        "query": "",
        "protocol": "HTTP/1.1",
        "status": 200,
        "response_bytes": 100,
        "response_ms": 1.0,
        "user_agent": "UA",
        "referrer": None,
        "visitor_id": None,
        "blocking_signal": False,
        "domain": None,
        "domain_confirmed": False,
    }
    rows = [
        {"ip": "192.0.2.1", "domain": "host-1.example.net", "domain_confirmed": True},
        {"ip": "192.0.2.2", "domain": "claimed.example", "domain_confirmed": False},
        {"ip": "2001:db8::1", "domain": "v6.example.org", "domain_confirmed": True},
        {"ip": "2001:db8::2"},
        {"ip": "198.51.100.7", "domain": "a.b-c.example", "domain_confirmed": True, "status": 404},
        {"ip": None, "blocking_signal": True},
    ]
    store_rows(app, [{**base, "time": utcnow(), "uid": f"g{n:031x}", **row} for n, row in enumerate(rows)])
    return 12


def goaccess_counts(log_path, *options) -> dict:
    """GoAccess's own totals for ``log_path``: total, valid and failed requests."""
    report = log_path.with_suffix(".json")
    subprocess.run(
        [GOACCESS, str(log_path), "--no-global-config", "--log-format=COMBINED", *options, "-o", str(report)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    general = json.loads(report.read_text())["general"]
    return {key: general[key] for key in ("total_requests", "valid_requests", "failed_requests")}


def test_goaccess_is_installed():
    assert GOACCESS, "goaccess not found: scripts/install-test-deps installs Debian's goaccess"


def test_goaccess_parses_every_line_of_the_combined_export(awkward_visits, runner, tmp_path):
    log = tmp_path / "access.log"
    result = runner.invoke(args=["visits", "export", "--format", "combined", "-o", str(log)])
    assert result.exit_code == 0, result.output
    lines = log.read_text().splitlines()
    assert len(lines) == awkward_visits
    assert sum(line.startswith("0.0.0.0 ") for line in lines) == 3  # the GPC, DNT and blocked rows
    assert goaccess_counts(log) == {"total_requests": 12, "valid_requests": 12, "failed_requests": 0}


def test_goaccess_parses_every_line_of_the_hostnames_export(awkward_visits, runner, tmp_path):
    log = tmp_path / "hosts.log"
    result = runner.invoke(args=["visits", "export", "--format", "combined", "--hostnames", "-o", str(log)])
    assert result.exit_code == 0, result.output
    hosts = [line.split(" ", 1)[0] for line in log.read_text().splitlines()]
    assert {"host-1.example.net", "v6.example.org", "a.b-c.example", "192.0.2.2"} <= set(hosts)
    counts = goaccess_counts(log, "--no-ip-validation")
    assert counts == {"total_requests": 12, "valid_requests": 12, "failed_requests": 0}


def test_visits_report_writes_goaccess_html_into_the_instance_folder(awkward_visits, app, runner):
    result = runner.invoke(args=["visits", "report"])
    assert result.exit_code == 0, result.output
    report = Path(app.instance_path) / "visits-report.html"
    assert f"Report of 12 visits written to {report}" in result.output
    html = report.read_text(encoding="utf-8")
    assert "<html" in html.lower() and "/no-such-page" in html
    # It holds visitors' addresses: readable by the shop's own user only.
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert not [name for name in os.listdir(app.instance_path) if name.startswith(".report-")]


def test_visits_report_explains_a_missing_goaccess(awkward_visits, runner, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    result = runner.invoke(args=["visits", "report"])
    assert result.exit_code == 1
    assert "goaccess is not installed; install it with: apt-get install goaccess" in result.output
