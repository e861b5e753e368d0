"""Mailed links cannot be pointed at another site: the Host header, PUBLIC_URL and X-Forwarded-Host.

With the default configuration the shop serves 127.0.0.1, localhost and the
host of PUBLIC_URL; any other Host is refused with 400 before a view runs,
so no link is ever built from it. Links in mail start with PUBLIC_URL when
it is set.
"""

import http.client
import logging
import re
from email import message_from_bytes, policy
from http.cookies import SimpleCookie

import pytest
from sqlalchemy import func, select

from tests.support.apps import TEST_KEY
from tests.support.forms import FORMS, outbox, send
from tests.support.gunicorn import GunicornServer
from tests.support.pages import csrf_token_from, submit
from webshop import create_app
from webshop.config import ConfigError
from webshop.db import db
from webshop.models import AccessLink, Submission, Subscription

JANE = "jane@example.org"
LINK = re.compile(r"https?://[^\s>]+")
NEWSLETTER = next(case for case in FORMS if case.kind == "newsletter")


def count(app, model) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def links_in(entry) -> list[str]:
    """Every URL in a mail: its text and its headers (List-Unsubscribe)."""
    headers = " ".join(str(value) for value in entry.message.values())
    return LINK.findall(entry.text) + LINK.findall(headers)


def whole(entry) -> str:
    return entry.text + " ".join(str(value) for value in entry.message.values())


def ask_for_link(client, **kwargs):
    return submit(client, "/my-data", {"email": JANE}, action="/my-data/link", **kwargs)


# --- A foreign Host, default configuration -------------------------------------------------------------


def form_token_for(client, page: str, host: str) -> str:
    """A form's CSRF token, with the session cookie also sent to ``host`` (as curl would send it)."""
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    client.set_cookie("session", client.get_cookie("session").value, domain=host)
    return token


def test_your_data_link_asked_for_under_a_foreign_host_is_refused_and_nothing_is_mailed(app, client):
    token = form_token_for(client, "/my-data", "evil.example")
    response = client.post("/my-data/link", data={"csrf_token": token, "email": JANE}, headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert "evil.example" not in response.get_data(as_text=True)
    assert outbox(app) == []
    assert count(app, AccessLink) == 0


def test_newsletter_signup_under_a_foreign_host_is_refused_and_nothing_is_stored(app, client):
    token = form_token_for(client, "/newsletter", "evil.example")
    response = client.post(
        "/newsletter",
        data={"csrf_token": token, "email": JANE, "topics": "offers"},
        base_url="http://evil.example:8000",
    )
    assert response.status_code == 400
    assert outbox(app) == []
    assert count(app, Submission) == 0 and count(app, Subscription) == 0


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost", "localhost:5000", "127.0.0.1"])
def test_loopback_names_are_served_and_mailed_links_use_them(app, client, host):
    assert ask_for_link(client, headers={"Host": host}).status_code == 303
    [entry] = outbox(app)
    assert links_in(entry) and all(link.startswith(f"http://{host}/") for link in links_in(entry))


# --- PUBLIC_URL ----------------------------------------------------------------------------------------


class TestPublicUrl:
    @pytest.fixture
    def app_config(self):
        return {"PUBLIC_URL": "https://shop.example.org/"}

    def test_the_access_link_uses_public_url_though_the_request_came_to_127_0_0_1(self, app, client):
        assert ask_for_link(client, base_url="http://127.0.0.1:8000").status_code == 303
        [entry] = outbox(app)
        [link] = links_in(entry)
        assert link.startswith("https://shop.example.org/my-data/open/")
        assert "127.0.0.1" not in whole(entry)
        # The link opens the data (the path is the shop's own).
        path = link.removeprefix("https://shop.example.org")
        page = client.get(path)
        assert page.status_code == 200
        pressed = client.post(path, data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})
        assert pressed.status_code == 303

    def test_newsletter_confirm_receipt_and_list_unsubscribe_use_public_url(self, app, client):
        assert send(client, app, NEWSLETTER, email=JANE).status_code == 303
        [entry] = outbox(app)
        assert entry.message["List-Unsubscribe"].startswith("<https://shop.example.org/newsletter/unsubscribe/")
        links = links_in(entry)
        assert len(links) >= 3  # confirm, receipt, List-Unsubscribe
        assert all(link.startswith("https://shop.example.org/") for link in links), links
        assert "localhost" not in whole(entry)

    def test_its_host_is_served_and_other_hosts_still_refused(self, client):
        assert client.get("/", base_url="https://shop.example.org").status_code == 200
        assert client.get("/", base_url="http://evil.example").status_code == 400

    def test_receipt_json_names_the_public_address(self, app, client):
        send(client, app, NEWSLETTER, email=JANE)
        with app.app_context():
            receipt_id = db.session.execute(select(Submission.receipt_id)).scalar_one()
        receipt = client.get(f"/receipt/{receipt_id}.json", base_url="http://127.0.0.1:8000").get_json()
        assert receipt["policyUrl"] == "https://shop.example.org/privacy"


def test_links_built_outside_a_request_use_public_url(app):
    from webshop import mail

    app.config["PUBLIC_URL"] = "https://shop.example.org"
    with app.app_context():
        assert mail.external_url("privacy.policy") == "https://shop.example.org/privacy"


@pytest.mark.parametrize(
    "value",
    [
        "shop.example.org",
        "ftp://shop.example.org",
        "https://",
        "https://shop.example.org/shop",
        "https://shop.example.org/?a=1",
        "https://user:pw@shop.example.org",
        "https://shop.example.org:99999",
        42,
    ],
)
def test_an_unusable_public_url_stops_the_start_with_a_clear_message(instance_path, value):
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        create_app({"SECRET_KEY": TEST_KEY, "PUBLIC_URL": value}, instance_path=str(instance_path))


def test_trusted_hosts_as_a_string_is_refused(instance_path):
    with pytest.raises(ConfigError, match="TRUSTED_HOSTS must be a list"):
        create_app({"SECRET_KEY": TEST_KEY, "TRUSTED_HOSTS": "shop.example.org"}, instance_path=str(instance_path))


class TestTrustedHostsAddNames:
    @pytest.fixture
    def app_config(self):
        return {"TRUSTED_HOSTS": [".example.net"], "PUBLIC_URL": "https://shop.example.org"}

    def test_listed_names_and_the_defaults_are_served(self, client):
        for base in ("http://www.example.net", "https://shop.example.org", "http://127.0.0.1:8000", "http://localhost"):
            assert client.get("/", base_url=base).status_code == 200, base
        assert client.get("/", base_url="http://example.org.evil.example").status_code == 400


# --- X-Forwarded-Host ----------------------------------------------------------------------------------


def test_x_forwarded_host_is_ignored_without_trusted_proxies(app, client):
    assert ask_for_link(client, headers={"X-Forwarded-Host": "evil.example"}).status_code == 303
    [entry] = outbox(app)
    assert "evil.example" not in whole(entry)
    assert all(link.startswith("http://localhost/") for link in links_in(entry))


class TestBehindAProxy:
    @pytest.fixture
    def app_config(self):
        return {"TRUSTED_PROXIES": 1, "TRUSTED_HOSTS": ["shop.example.org"]}

    def test_a_forwarded_host_the_shop_does_not_serve_is_refused(self, app, client):
        token = csrf_token_from(client.get("/my-data").get_data(as_text=True))
        response = client.post(
            "/my-data/link",
            data={"csrf_token": token, "email": JANE},
            headers={"X-Forwarded-Host": "evil.example"},
        )
        assert response.status_code == 400
        assert outbox(app) == []

    def test_the_forwarded_host_is_used_when_it_is_served(self, app, client):
        assert ask_for_link(client, headers={"X-Forwarded-Host": "shop.example.org"}).status_code == 303
        [entry] = outbox(app)
        assert all(link.startswith("http://shop.example.org/") for link in links_in(entry))


# --- The warning at start ------------------------------------------------------------------------------


def production_app(database, instance_path, **config):
    return create_app(
        {"SECRET_KEY": TEST_KEY, "SQLALCHEMY_DATABASE_URI": database, "RDNS_ENABLED": False, **config},
        instance_path=str(instance_path),
    )


@pytest.mark.only_database("sqlite")
def test_a_production_start_without_public_url_or_trusted_hosts_warns(database, instance_path, caplog):
    with caplog.at_level(logging.WARNING, logger="webshop"):
        production_app(database, instance_path)
    [warning] = [r for r in caplog.records if "PUBLIC_URL" in r.getMessage()]
    assert warning.levelno == logging.WARNING
    assert "only requests for 127.0.0.1 and localhost are served" in warning.getMessage()
    assert "FLASK_PUBLIC_URL=https://shop.example.org" in warning.getMessage()


@pytest.mark.only_database("sqlite")
@pytest.mark.parametrize(
    "config",
    [{"PUBLIC_URL": "https://shop.example.org"}, {"TRUSTED_HOSTS": ["shop.example.org"]}, {"TESTING": True}],
)
def test_no_warning_once_the_host_is_configured_or_when_testing(database, instance_path, caplog, config):
    with caplog.at_level(logging.WARNING, logger="webshop"):
        production_app(database, instance_path, **config)
    assert not [r for r in caplog.records if "PUBLIC_URL" in r.getMessage()]


# --- The same through a real server --------------------------------------------------------------------


def exchange(port, method, path, host, headers=None, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    connection.request(method, path, body=body, headers={"Host": host, **(headers or {})})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data.decode("utf-8", "replace")


@pytest.mark.only_database("sqlite")
def test_gunicorn_with_the_default_config_refuses_a_foreign_host_and_mails_nothing(database, instance_path):
    server = GunicornServer(instance_path, {"SQLALCHEMY_DATABASE_URI": database, "RDNS_ENABLED": False}).start()
    try:
        own = f"127.0.0.1:{server.port}"
        page, html = exchange(server.port, "GET", "/my-data", own)
        assert page.status == 200
        cookies = SimpleCookie()
        for value in page.headers.get_all("Set-Cookie"):
            cookies.load(value)
        cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())
        form = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
        body = f"csrf_token={csrf_token_from(html)}&email=jane%40example.org"
        refused, text = exchange(server.port, "POST", "/my-data/link", "evil.example", form, body)
        assert refused.status == 400 and "evil.example" not in text
        assert not any((instance_path / "outbox" / "new").glob("*"))
        # The same request under the shop's own name is mailed, with links to that name.
        accepted, _ = exchange(server.port, "POST", "/my-data/link", own, form, body)
        assert accepted.status == 303
        [mailed] = list((instance_path / "outbox" / "new").glob("*"))
        text = message_from_bytes(mailed.read_bytes(), policy=policy.default).get_body().get_content()
        assert f"http://{own}/my-data/open/" in text and "evil.example" not in text
    finally:
        server.stop()
    assert "Neither PUBLIC_URL nor TRUSTED_HOSTS is set" in server.log.read_text()
