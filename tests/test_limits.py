"""Abuse limits per client: forms, chat, staff sign-in and your-data links (Flask-Limiter)."""

import os
import re
import subprocess
import sys

import pytest

from tests.support.forms import FORMS, form_data, send, submissions
from tests.support.pages import hidden_fields, submit
from webshop import create_app
from webshop.db import db
from webshop.limits import client_key, limiter
from webshop.models import Visit
from webshop.visits import flush

LIMITS_ON = {
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_FORMS": "2 per minute",
    "RATELIMIT_CHAT": "2 per minute",
    "RATELIMIT_CHAT_POLL": "2 per minute",
    "RATELIMIT_SIGN_IN": "2 per minute",
    "RATELIMIT_MY_DATA_LINK": "2 per minute",
}


@pytest.fixture
def app_config():
    return dict(LIMITS_ON)


CASES = {case.kind: case for case in FORMS}


def assert_429_page(response):
    assert response.status_code == 429
    seconds = int(response.headers["Retry-After"])
    assert 1 <= seconds <= 61
    text = response.get_data(as_text=True)
    assert "Too many requests" in text
    assert "nothing you sent was stored" in text
    assert re.search(r"Please wait \d+ seconds?, then try again", text)
    assert "Set-Cookie" not in response.headers or "cart=" not in response.headers["Set-Cookie"]


@pytest.mark.parametrize("kind", [case.kind for case in FORMS])
def test_every_personal_information_form_is_limited_and_the_refused_post_stores_nothing(app, client, kind):
    case = CASES[kind]
    for _ in range(2):
        assert send(client, app, case).status_code == 303
    stored = len(submissions(app, case.kind))
    refused = send(client, app, case)
    assert_429_page(refused)
    assert len(submissions(app, case.kind)) == stored
    assert client.get(case.url).status_code == 200  # reading the page is not limited


def test_the_forms_share_one_count_per_client(app, client):
    assert send(client, app, CASES["newsletter"]).status_code == 303
    assert send(client, app, CASES["survey"]).status_code == 303
    assert_429_page(send(client, app, CASES["contact"]))


def test_another_address_has_its_own_count(app, client):
    case = CASES["newsletter"]
    first = {"REMOTE_ADDR": "192.0.2.1"}
    for _ in range(2):
        assert submit(client, case.url, form_data(app, case), environ_base=first).status_code == 303
    assert submit(client, case.url, form_data(app, case), environ_base=first).status_code == 429
    other = {"REMOTE_ADDR": "192.0.2.2"}
    assert submit(client, case.url, form_data(app, case), environ_base=other).status_code == 303


def test_chat_polling_has_a_generous_limit_of_its_own(app, client):
    for _ in range(2):
        assert client.get("/chat/messages").status_code == 200
    assert_429_page(client.get("/chat/messages"))
    assert client.get("/chat").status_code == 200


def test_staff_sign_in_posts_are_limited(app, client):
    for _ in range(2):
        assert submit(client, "/admin/login", {"name": "nobody", "password": "wrong"}).status_code != 429
    assert_429_page(submit(client, "/admin/login", {"name": "nobody", "password": "wrong"}))
    assert client.get("/admin/login").status_code == 200


def test_your_data_link_requests_are_limited(app, client):
    for _ in range(2):
        assert submit(client, "/my-data", {"email": "jane@example.org"}, action="/my-data/link").status_code == 303
    assert_429_page(submit(client, "/my-data", {"email": "jane@example.org"}, action="/my-data/link"))


def test_a_blocking_signal_is_limited_by_address_but_the_address_is_never_stored(app, client):
    case = CASES["newsletter"]
    gpc = {"Sec-GPC": "1"}
    address = {"REMOTE_ADDR": "198.51.100.77"}
    for _ in range(2):
        page = client.get(case.url, headers=gpc, environ_base=address)
        data = {**hidden_fields(page.get_data(as_text=True)), **form_data(app, case)}
        assert client.post(case.url, data=data, headers=gpc, environ_base=address).status_code == 303
    refused = client.post(case.url, data=data, headers=gpc, environ_base=address)
    assert_429_page(refused)
    flush(app)
    with app.app_context():
        ips = db.session.execute(db.select(Visit.ip)).scalars().all()
    assert len(ips) == 5 and set(ips) == {None}
    assert {s.ip for s in submissions(app)} == {None}
    with app.test_request_context(environ_base=address):
        assert "198.51.100.77" not in client_key() and "198" not in client_key()


@pytest.mark.parametrize("app_config", [{**LIMITS_ON, "TRUSTED_PROXIES": 1}])
def test_behind_a_trusted_proxy_the_forwarded_client_address_is_counted(app, client):
    case = CASES["newsletter"]

    def post(forwarded):
        headers = {"X-Forwarded-For": forwarded}
        proxy = {"REMOTE_ADDR": "10.0.0.2"}
        page = client.get(case.url, headers=headers, environ_base=proxy)
        data = {**hidden_fields(page.get_data(as_text=True)), **form_data(app, case)}
        return client.post(case.url, data=data, headers=headers, environ_base=proxy)

    assert [post("203.0.113.5").status_code for _ in range(3)] == [303, 303, 429]
    assert post("203.0.113.6").status_code == 303  # another client behind the same proxy


def test_one_click_unsubscribe_and_plain_pages_are_never_limited(app, client):
    for _ in range(5):
        assert client.get("/").status_code == 200
        assert client.post("/newsletter/unsubscribe/not-a-token").status_code == 400


LIMITED_ENDPOINTS = [
    "newsletter.signup",
    "survey.survey",
    "registration.register",
    "contact.contact",
    "board.board",
    "checkout.checkout",
    "chat.chat",
    "chat.messages",
    "staff.login",
    "my_data.request_link",
]


def test_every_limited_endpoint_carries_its_limit(app):
    with app.test_request_context():
        for endpoint in LIMITED_ENDPOINTS:
            _, decorated = limiter.limit_manager.resolve_limits(app, endpoint)
            assert decorated, endpoint


def test_limits_are_on_by_default_in_memory_and_configurable_from_the_environment(database, instance_path, monkeypatch):
    settings = {
        "SECRET_KEY": "k",
        "SQLALCHEMY_DATABASE_URI": database,
        "RDNS_ENABLED": "false",
        "VISITS_ENABLED": "false",
        "RATELIMIT_FORMS": "1 per minute",
    }
    for name, value in settings.items():
        monkeypatch.setenv(f"FLASK_{name}", value)
    app = create_app(instance_path=str(instance_path))
    try:
        assert app.config["RATELIMIT_ENABLED"] is True
        assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
        assert app.config["RATELIMIT_FORMS"] == "1 per minute"
        client = app.test_client()
        case = CASES["contact"]
        assert send(client, app, case).status_code == 303
        assert send(client, app, case).status_code == 429
    finally:
        with app.app_context():
            db.engine.dispose()


def test_a_page_without_a_limit_is_not_checked_by_the_limiter_yet_limited_views_still_are(app, client):
    assert limiter._check_request_limit not in app.before_request_funcs[None]
    for _ in range(5):
        assert client.get("/product/lumen-m50").status_code == 200
    case = CASES["contact"]
    assert send(client, app, case).status_code == 303
    assert send(client, app, case).status_code == 303
    assert_429_page(send(client, app, case))


def test_an_app_wide_limit_still_limits_every_page(database, instance_path):
    app = create_app(
        {
            "SECRET_KEY": "k",
            "SQLALCHEMY_DATABASE_URI": database,
            "RDNS_ENABLED": False,
            "VISITS_ENABLED": False,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_APPLICATION": "2 per minute",
        },
        instance_path=str(instance_path),
    )
    try:
        client = app.test_client()
        assert [client.get("/product/lumen-m50").status_code for _ in range(3)] == [200, 200, 429]
    finally:
        with app.app_context():
            db.engine.dispose()


def test_flask_limiter_command_lists_the_limits_of_every_limited_view(tmp_path):
    """`flask limiter limits`, the operator's view of what is limited, works from a plain install."""
    env = {
        **os.environ,
        "FLASK_SECRET_KEY": "cli-test-key",
        "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "webshop", "limiter", "limits"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "staff.login: /admin/login" in result.stdout
    assert "10 per 1 minute" in result.stdout and "50 per 1 hour" in result.stdout
    assert "my_data.request_link: /my-data/link" in result.stdout
