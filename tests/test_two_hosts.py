"""Two hosts behind nginx on one PostgreSQL and one Redis: a visitor alternating between them notices nothing.

The stack is the one docs/operations.md "Several hosts" describes, as real
processes (tests/support/two_hosts.py): two gunicorn shops with their own
``instance/`` folders and the same keys, Debian's nginx with
deploy/nginx-two-hosts.conf as its upstream, Debian's redis-server for the
rate limits, aiosmtpd as the mail relay. nginx sends each request to the
next host in turn, and every test checks from the hosts' own access logs
that both answered its requests.
"""

import os
import re
import signal
import time
import urllib.error

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from bench.soak import count_rows, soak_two_hosts
from tests.support.http_client import Browser
from tests.support.my_data import ACCESS_LINK
from tests.support.pages import csrf_token_from
from tests.support.redis import RedisServer
from tests.support.two_hosts import TwoHosts, shared_settings
from webshop.models import StaffUser

pytestmark = [pytest.mark.slow, pytest.mark.only_database("postgresql")]

LIMIT = 3
PASSWORD = "a long staff password"


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def settings(tmp_path, database, redis, smtp_server):
    return {
        **shared_settings(tmp_path, database, redis.url),
        **smtp_server.config,
        # A day's window, so no count rolls over while a test runs.
        **{name: f"{LIMIT} per day" for name in ("RATELIMIT_FORMS", "RATELIMIT_CHAT", "RATELIMIT_SIGN_IN")},
        "RATELIMIT_MY_DATA_LINK": f"{LIMIT} per day",
    }


@pytest.fixture
def stack(tmp_path, settings):
    stack = TwoHosts(tmp_path, settings).start()
    yield stack
    stack.stop()


def both_answered(stack: TwoHosts, needle: str) -> list[int]:
    """Access-log lines mentioning ``needle`` on host A and on host B."""
    return [stack.access_lines(host, needle) for host in stack.hosts]


def visits(database: str, where: str = "TRUE") -> list:
    engine = create_engine(database)
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT path, query, visitor_id, status FROM visit WHERE {where} ORDER BY id")).all()
    engine.dispose()
    return rows


def status_of(call, *args) -> int:
    try:
        call(*args)
    except urllib.error.HTTPError as error:
        return error.code
    return 200


def test_a_shopper_whose_requests_alternate_between_hosts_keeps_the_cart_and_checks_out(stack, database):
    browser = stack.browser()
    for slug, quantity in (("hush-anc", 2), ("tidal-buds", 1), ("boom-cube", 3)):
        _url, page = browser.get(f"/product/{slug}")
        product_id = re.search(r'name="product_id"[^>]*value="(\d+)"', page).group(1)
        browser.post("/cart/add", {"csrf_token": csrf_token_from(page), "product_id": product_id, "quantity": quantity})
    _url, cart = browser.get("/cart")
    for name in ("Hush ANC Headphones", "Tidal Buds", "Boom Cube Speaker"):
        assert name in cart
    url, order_page = browser.submit(
        "/checkout", {"name": "Ada Shopper", "email": "ada@example.org", "address": "1 Loopback Lane, Localhost"}
    )
    number = re.search(r"/order/([A-Z0-9-]+)$", url).group(1)
    _url, cart_after = browser.get("/cart")
    stack.stop()

    assert all(both_answered(stack, "POST /cart/add")), "both hosts took some of the adds"
    engine = create_engine(database)
    with engine.connect() as conn:
        lines = conn.execute(
            text(
                "SELECT p.slug, l.quantity FROM order_line l JOIN orders o ON o.id = l.order_id"
                " JOIN product p ON p.id = l.product_id WHERE o.number = :n ORDER BY p.slug"
            ),
            {"n": number},
        ).all()
    engine.dispose()
    assert [tuple(line) for line in lines] == [("boom-cube", 3), ("hush-anc", 2), ("tidal-buds", 1)]
    assert number in order_page
    assert "Hush ANC Headphones" not in cart_after  # emptied by the host that took the order


def test_the_banner_choice_made_on_one_host_holds_on_the_other(stack, database):
    browser = stack.browser()
    _url, first = browser.get("/?probe=before")
    assert 'id="consent-banner"' in first
    browser.submit("/privacy", {"choice": "accept", "next": "/privacy"}, action="/consent")
    pages = [browser.get(f"/?probe=after-{n}")[1] for n in range(4)]
    stack.stop()

    assert not any('id="consent-banner"' in page for page in pages)
    assert all(both_answered(stack, "GET /?probe=after-"))
    after = visits(database, "query LIKE 'probe=after-%'")
    assert len(after) == 4
    ids = {row.visitor_id for row in after}
    assert len(ids) == 1 and None not in ids, "the visitor id given on accepting is recorded by both hosts"


def test_a_form_opened_on_one_host_is_accepted_with_its_tokens_by_the_other(stack, database):
    browser = stack.browser()
    url, _page = browser.submit(
        "/board", {"display_name": "Cross Host", "email": "cross@example.org", "message": "Token from the other host"}
    )
    stack.stop()
    assert "/thanks/" in url
    get_board, post_board = (both_answered(stack, needle) for needle in ("GET /board ", "POST /board "))
    # The form was served by one host and posted to the other.
    assert sorted([get_board, post_board]) == [[0, 1], [1, 0]]
    assert [row.status for row in visits(database, "path = '/board' AND query = ''")][:2] == [200, 303]


def test_a_your_data_link_opened_on_one_host_keeps_working_on_the_other(stack, smtp_server):
    browser = stack.browser()
    browser.submit("/newsletter", {"email": "jane@example.org", "topics": ["offers"]})
    browser.submit("/my-data", {"email": "jane@example.org"}, action="/my-data/link")
    link = next(
        ACCESS_LINK.search(m.get_body(("plain",)).get_content()).group(0)
        for m in reversed(smtp_server.messages)
        if ACCESS_LINK.search(m.get_body(("plain",)).get_content())
    )
    assert link.startswith("http://shop.example.org/"), "mailed links carry the shared PUBLIC_URL"
    path = link.removeprefix("http://shop.example.org")
    _url, button = browser.get(path)
    url, _page = browser.post(path, {"csrf_token": csrf_token_from(button)})
    assert url.endswith("/my-data/email")
    pages = [browser.get("/my-data/email")[1] for _ in range(4)]
    stack.stop()
    assert all("jane@example.org" in page and "newsletter" in page.lower() for page in pages)
    assert all(both_answered(stack, "GET /my-data/email"))


def test_staff_signed_in_on_one_host_work_on_the_other(stack, database):
    engine = create_engine(database)
    with Session(engine) as session:
        hashed = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        session.add(StaffUser(name="alice", password_hash=hashed))
        session.commit()
    engine.dispose()
    browser = stack.browser()
    url, _page = browser.submit("/admin/login", {"name": "alice", "password": PASSWORD})
    assert "/admin/login" not in url
    pages = [browser.get(path) for path in ("/admin/", "/admin/visits", "/admin/", "/admin/visits")]
    stack.stop()
    assert all("/admin/login" not in url and "Sign out" in page for url, page in pages)
    assert all(both_answered(stack, "GET /admin/"))


def post_board(browser: Browser, n: int) -> None:
    data = {"display_name": f"Poster {n}", "email": f"poster{n}@example.org", "message": f"Hello {n}"}
    browser.submit("/board", data)


def post_chat(browser: Browser, n: int) -> None:
    browser.submit("/chat", {"display_name": f"Chatter {n}", "message": f"Hi {n}"})


def sign_in(browser: Browser, n: int) -> None:
    browser.submit("/admin/login", {"name": "nobody", "password": f"wrong password {n}"})


def ask_for_link(browser: Browser, n: int) -> None:
    browser.submit("/my-data", {"email": f"asker{n}@example.org"}, action="/my-data/link")


@pytest.mark.parametrize(
    ("post", "path", "answer"),
    [
        (post_board, "/board", 200),
        (post_chat, "/chat", 200),
        (sign_in, "/admin/login", 401),  # a wrong password counts as much as a right one
        (ask_for_link, "/my-data/link", 200),
    ],
    ids=["form", "chat", "sign-in", "your-data-link"],
)
def test_a_limit_allows_the_same_number_through_two_hosts_as_through_one(stack, post, path, answer):
    browser = stack.browser()
    statuses = []
    for n in range(LIMIT + 3):
        if n % 2:
            # One more request before every other post, so that posts land on both hosts
            # whatever number of requests one post takes (its form page, its redirect).
            browser.get("/healthz")
        statuses.append(status_of(post, browser, n))
    stack.stop()
    assert statuses == [answer] * LIMIT + [429] * 3
    assert all(both_answered(stack, f"POST {path} ")), "both hosts counted posts"


def test_visits_served_by_both_hosts_are_all_in_the_one_database(stack, database):
    browser = stack.browser()
    for n in range(10):
        browser.get(f"/search?q=probe{n}")
    stack.stop()
    assert both_answered(stack, "GET /search?q=probe") == [5, 5]
    # Each host's writer stores its own rows, so ids are not in request order.
    assert sorted(row.query for row in visits(database, "path = '/search'")) == [f"q=probe{n}" for n in range(10)]


def test_one_host_stopping_and_the_others_worker_killed_under_load_lose_nothing(tmp_path, database, redis):
    """Unplanned: SIGTERM to host A, then SIGKILL to one of host B's workers, under load through nginx."""
    seen = {}

    def take_hosts_away(stack: TwoHosts, load):
        host_a, host_b = stack.hosts
        seen["term"] = time.monotonic()
        host_a.stop()  # SIGTERM: a graceful stop, as a service manager does it
        seen["gone"] = time.monotonic()
        seen["a_returncode"] = host_a.process.returncode
        time.sleep(1)
        seen["kill"] = time.monotonic()
        os.kill(host_b.worker_pids()[0], signal.SIGKILL)

    before = count_rows(database, "submission")
    report = soak_two_hosts(database, redis.url, tmp_path / "hosts", seconds=10, clients=4, during=take_hosts_away)
    print(report.summary())
    tally = report.tally
    assert seen["a_returncode"] == 0
    assert tally.failed == 0, f"nginx answered every request, not {dict(tally.failures)}"
    assert set(tally.statuses) <= {200, 201, 303, 502}, tally.statuses
    # A 502 comes only from a request that was already on its way to the host going
    # away (queued for host A as its last worker left, or inside the killed worker):
    # at most one per client each time, and none once nginx has gone over to the host left.
    bad = [at for at, _method, _path, status in tally.events if status == 502]
    assert len(bad) <= 2 * report.clients
    assert all(seen["term"] <= at < seen["gone"] + 1 or seen["kill"] <= at < seen["kill"] + 1 for at in bad), (
        [round(at - seen["term"], 3) for at in bad],
        round(seen["kill"] - seen["term"], 3),
    )
    # An answer the killed worker had begun to send stops short: nginx can neither finish nor retry it.
    # That happens only to the requests inside that worker, at the kill, and its row was spooled before.
    assert len(tally.cut_off) <= 1
    assert all(seen["kill"] <= at < seen["kill"] + 1 for at in tally.cut_off), [
        round(at - seen["kill"], 3) for at in tally.cut_off
    ]
    after = [status for at, _m, _p, status in tally.events if at > seen["kill"] + 1]
    assert after and set(after) <= {200, 201, 303}
    # Every request a host answered has its row; a GET retried on host B after the kill may have two.
    answered_by_shop = tally.answered_recorded - len(bad)
    assert answered_by_shop <= report.rows_recorded <= answered_by_shop + 1
    # Every accepted submission is stored, and no other: a form whose answer was a 502 is sent
    # again once, as a browser does, and a second send of a form stored the first time stores
    # nothing more (its single-use token), so each form filled in is stored exactly once.
    assert report.missing == [] and report.present == report.accepted > 0
    assert report.submissions_stored == report.accepted
    assert count_rows(database, "submission") - before == report.accepted


def test_a_host_drained_from_nginx_before_it_stops_costs_no_request(tmp_path, database, redis):
    """Planned: take host A out of the upstream, reload nginx, then SIGTERM it: not one error."""
    seen = {}

    def drain_and_stop(stack: TwoHosts, load):
        host_a, host_b = stack.hosts
        stack.drain(host_a)
        seen["stopped"] = time.monotonic()
        host_a.stop()
        seen["a_returncode"] = host_a.process.returncode
        seen["b_workers"] = host_b.worker_pids()

    report = soak_two_hosts(database, redis.url, tmp_path / "hosts", seconds=8, clients=4, during=drain_and_stop)
    print(report.summary())
    tally = report.tally
    assert seen["a_returncode"] == 0
    assert tally.failed == 0 and not tally.cut_off and set(tally.statuses) <= {200, 201, 303}, tally.statuses
    assert any(at > seen["stopped"] for at, *_ in tally.events), "the load went on after host A stopped"
    assert report.rows_recorded == tally.answered_recorded
    assert report.missing == [] and report.present == report.accepted > 0
    assert report.submissions_stored == report.accepted
    assert not report.problems(), report.problems()
