"""Rate limits shared through a real Redis: exact across gunicorn workers, and pages keep working without it."""

import threading
import urllib.error

import pytest

from tests.support.gunicorn import GunicornServer
from tests.support.http_client import Browser
from tests.support.redis import RedisServer

# The counters live in Redis whatever the database; one backend is enough here.
pytestmark = [pytest.mark.slow, pytest.mark.only_database("sqlite")]

LIMIT = 5


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def shop(tmp_path, database: str, redis_url: str, workers: int) -> GunicornServer:
    settings = {
        "SQLALCHEMY_DATABASE_URI": database,
        "RDNS_ENABLED": False,
        "RATELIMIT_STORAGE_URI": redis_url,
        # A day's window: the count cannot roll over while the test runs.
        "RATELIMIT_FORMS": f"{LIMIT} per day",
    }
    server = GunicornServer(tmp_path / "instance", settings, workers=workers)
    server.log = tmp_path / "gunicorn.log"
    return server.start()


def post_board(browser: Browser, n: int) -> int:
    """Post one board message; the HTTP status of the answer to the POST."""
    data = {"display_name": f"Poster {n}", "email": f"poster{n}@example.org", "message": f"Hello number {n}"}
    try:
        url, _page = browser.submit("/board", data)
    except urllib.error.HTTPError as error:
        return error.code
    assert "/thanks/" in url  # stored, not sent back with a form error
    return 200


def test_two_workers_sharing_redis_allow_one_client_exactly_the_stated_number_of_posts(tmp_path, database, redis):
    server = shop(tmp_path, database, redis.url, workers=2)
    try:
        statuses = []

        # Two posters at once from the same address, so both workers answer some of the posts.
        def poster(start):
            browser = Browser(server.url)
            for n in range(start, start + LIMIT):
                statuses.append(post_board(browser, n))

        threads = [threading.Thread(target=poster, args=(i * 100,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        _url, board = Browser(server.url).get("/board")
    finally:
        server.stop()
    assert sorted(statuses) == [200] * LIMIT + [429] * LIMIT
    assert board.count("Hello number") == LIMIT


def test_when_redis_goes_away_pages_keep_working_and_the_log_says_limits_are_degraded(tmp_path, database, redis):
    server = shop(tmp_path, database, redis.url, workers=1)
    try:
        browser = Browser(server.url)
        assert post_board(browser, 1) == 200
        redis.stop()
        _url, home = browser.get("/")
        assert "</html>" in home
        assert post_board(browser, 2) == 200
        _url, board = browser.get("/board")
    finally:
        server.stop()
    assert "Hello number 2" in board
    assert "Rate limit storage unreachable - falling back to in-memory storage" in server.log.read_text()
