"""Headers on every response, CSRF on every form, size limits, friendly errors."""

import pytest

from tests.support.pages import submit

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def assert_security_headers(response):
    for name, value in EXPECTED.items():
        assert response.headers[name] == value
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "default-src 'self'" in csp


@pytest.fixture
def app_config():
    return {"PROPAGATE_EXCEPTIONS": False}


def test_headers_on_a_normal_page(client):
    response = client.get("/")
    assert response.status_code == 200
    assert_security_headers(response)


def test_headers_and_friendly_page_on_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert_security_headers(response)
    assert "There is no page at this address." in response.get_data(as_text=True)


def test_headers_and_friendly_page_on_500(app, client):
    @app.get("/boom-for-test")
    def boom():
        raise RuntimeError("kaboom")

    response = client.get("/boom-for-test")
    assert response.status_code == 500
    assert_security_headers(response)
    body = response.get_data(as_text=True)
    assert "Something went wrong" in body and "kaboom" not in body


def test_oversized_body_is_a_friendly_413(client):
    client.get("/")
    response = client.post("/cart/add", data={"product_id": "1", "quantity": "1", "pad": "x" * 200_000})
    assert response.status_code == 413
    assert_security_headers(response)
    assert "larger than this shop accepts" in response.get_data(as_text=True)


def test_no_page_loads_anything_from_another_site(client):
    for url in ["/", "/product/aurora-x1", "/privacy", "/cart", "/category/audio"]:
        page = client.get(url).get_data(as_text=True)
        assert "http://" not in page.replace("http://localhost", "")
        assert "https://" not in page


def test_every_form_on_the_main_pages_carries_a_csrf_token(client):
    import re

    client.post  # noqa: B018 - the client is used below
    for url in ["/", "/product/aurora-x1", "/privacy", "/search?q=a"]:
        page = client.get(url).get_data(as_text=True)
        for form in re.findall(r"<form[^>]*method=\"post\".*?</form>", page, flags=re.S):
            assert 'name="csrf_token"' in form, form[:200]


def test_post_without_token_is_rejected(client):
    client.get("/")
    assert client.post("/consent", data={"next": "/"}).status_code == 400


def test_consent_banner_shows_until_acknowledged_and_returns_to_the_page(client):
    assert 'id="consent-banner"' in client.get("/category/audio").get_data(as_text=True)
    response = submit(client, "/category/audio", {"next": "/category/audio", "choice": "accept"}, action="/consent")
    assert response.status_code == 303 and response.headers["Location"] == "/category/audio"
    assert 'id="consent-banner"' not in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"]
)
def test_consent_never_redirects_off_site(client, target):
    response = submit(client, "/", {"next": target, "choice": "accept"}, action="/consent")
    assert response.headers["Location"] == "/"


def test_new_policy_version_shows_the_banner_again(client, monkeypatch):
    submit(client, "/", {"next": "/", "choice": "accept"}, action="/consent")
    assert 'id="consent-banner"' not in client.get("/").get_data(as_text=True)
    monkeypatch.setattr("webshop.consent.POLICY_VERSION", "2099-01")
    assert 'id="consent-banner"' in client.get("/").get_data(as_text=True)


def test_tampered_consent_cookie_just_shows_the_banner(client):
    client.set_cookie("consent", "2026-11.forged.signature")
    response = client.get("/")
    assert response.status_code == 200 and 'id="consent-banner"' in response.get_data(as_text=True)


class TestTrustedHosts:
    @pytest.fixture
    def app_config(self):
        return {"TRUSTED_HOSTS": ["shop.example.org"], "PROPAGATE_EXCEPTIONS": False}

    def outbox(self, app):
        from webshop import mail

        with app.app_context():
            return mail.outbox_messages()

    def test_foreign_host_is_refused_and_no_mail_carries_it(self, app, client):
        base = {"base_url": "http://shop.example.org"}
        page = client.get("/newsletter", **base)
        assert page.status_code == 200
        from tests.support.pages import csrf_token_from

        token = csrf_token_from(page.get_data(as_text=True))
        response = client.post(
            "/newsletter",
            base_url="http://evil.example",
            data={"csrf_token": token, "email": "jane@example.org", "topics": "offers"},
        )
        assert response.status_code == 400
        assert self.outbox(app) == []
        # The same signup through the trusted name is mailed, with links to that name only.
        submit(client, "/newsletter", {"email": "jane@example.org", "topics": "offers"}, **base)
        [entry] = self.outbox(app)
        assert "http://shop.example.org/" in entry.text and "evil.example" not in entry.message.as_string()
