"""Rotating SECRET_KEY: with the old key in SECRET_KEY_FALLBACKS nothing a browser or a mail holds breaks;
without it, every old value fails cleanly (an empty cart, the banner again, a clear page for old links).
"""

from urllib.parse import urlsplit

import pytest
from sqlalchemy import text

from tests.support.cart import add_to_cart
from tests.support.forms import FORMS, form_data
from tests.support.my_data import JANE, NEWSLETTER_LINK, access_path, mails_to, path_in
from tests.support.pages import acknowledge_banner, hidden_fields, press_button, submit
from tests.support.staff import signed_in
from webshop import create_app
from webshop.config import ConfigError
from webshop.db import db
from webshop.signing import serializer

OLD_KEY = "the-old-secret-key-of-this-test"
NEW_KEY = "the-new-secret-key-of-this-test"
COOKIES = ("cart", "consent", "visitor", "session")
NEWSLETTER = next(case for case in FORMS if case.kind == "newsletter")
BANNER = 'id="consent-banner"'


@pytest.fixture
def app_config():
    return {"SECRET_KEY": OLD_KEY}


@pytest.fixture
def rotate(app):
    """Start the shop again on the same database with the new key, as a deployment would."""
    started = []

    def start(fallbacks):
        config = {
            "TESTING": True,
            "SECRET_KEY": NEW_KEY,
            "SECRET_KEY_FALLBACKS": fallbacks,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "RDNS_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "VISITS_ENABLED": False,
        }
        try:
            rotated = create_app(config, instance_path=app.instance_path)
        except ConfigError as refusal:
            # A key replaced without the old one as fallback: the shop refuses to start until the
            # operator forgets the recorded key, as docs/operations.md ("Several hosts") says.
            assert not fallbacks and "SECRET_KEY is not the key this shop's database records" in str(refusal)
            forget_recorded_secret_key(app)
            rotated = create_app(config, instance_path=app.instance_path)
        started.append(rotated)
        return rotated

    yield start
    for rotated in started:
        with rotated.app_context():
            db.session.remove()
            db.engine.dispose()


def forget_recorded_secret_key(app):
    with app.app_context():
        db.session.execute(text("DELETE FROM signing_key_check WHERE name = 'secret_key'"))
        db.session.commit()


def carry_cookies(old_client, new_app):
    """The same browser, now talking to the restarted shop."""
    client = new_app.test_client()
    for name in COOKIES:
        cookie = old_client.get_cookie(name)
        if cookie is not None:
            client.set_cookie(name, cookie.value)
    return client


def set_cookie_for(response, name: str) -> str | None:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(f"{name}="):
            return header
    return None


def is_deleted(header: str | None) -> bool:
    return bool(header) and ("Max-Age=0" in header or "1970" in header)


def browser_with_everything(app, client):
    """Banner acknowledged, a visitor id, an item in the cart, a form open with its tokens."""
    acknowledge_banner(client)
    assert client.get("/").status_code == 200
    add_to_cart(client, app)
    for name in COOKIES:
        assert client.get_cookie(name) is not None, name
    return hidden_fields(client.get(NEWSLETTER.url).get_data(as_text=True))


def link_paths(app, client):
    """A pending newsletter confirmation, its unsubscribe link and a your-data link, as mailed."""
    assert submit(client, NEWSLETTER.url, form_data(app, NEWSLETTER)).status_code == 303
    confirm_mail = next(m for m in mails_to(app, JANE) if NEWSLETTER_LINK.search(m.text))
    return {
        "confirm": path_in(NEWSLETTER_LINK, confirm_mail),
        "unsubscribe": urlsplit(confirm_mail.message["List-Unsubscribe"][1:-1]).path,
        "access": access_path(client, app, JANE),
    }


# --- With the old key as a fallback --------------------------------------------------------------


def test_with_the_old_key_as_fallback_cart_consent_visitor_id_and_open_forms_keep_working(app, client, rotate):
    tokens = browser_with_everything(app, client)
    new_app = rotate([OLD_KEY])
    browser = carry_cookies(client, new_app)

    cart = browser.get("/cart")
    assert cart.status_code == 200
    html = cart.get_data(as_text=True)
    assert "Your cart is empty" not in html  # the cart signed with the old key is read
    assert BANNER not in html  # the acknowledgement is read
    assert set_cookie_for(cart, "cart") is None  # nothing replaced
    assert set_cookie_for(cart, "visitor") is None  # the same visitor id, no new one issued

    # A form opened before the rotation is still accepted.
    data = {**tokens, **form_data(app, NEWSLETTER)}
    assert browser.post(NEWSLETTER.url, data=data).status_code == 303


def test_with_the_old_key_as_fallback_values_are_signed_again_with_the_new_key(app, client, rotate):
    browser_with_everything(app, client)
    browser = carry_cookies(client, rotate([OLD_KEY]))
    changed = submit(browser, "/cart", {"product_id": "1", "quantity": "2"}, action="/cart/update")
    assert changed.status_code in (302, 303)
    # Once the old key is gone, the re-signed cart is still good.
    after = carry_cookies(browser, rotate([]))
    assert "Your cart is empty" not in after.get("/cart").get_data(as_text=True)


def test_with_the_old_key_as_fallback_staff_stay_signed_in(app, client, rotate):
    signed_in(app, client)
    browser = carry_cookies(client, rotate([OLD_KEY]))
    assert browser.get("/admin/").status_code == 200


def test_with_the_old_key_as_fallback_mailed_links_keep_working(app, client, rotate):
    paths = link_paths(app, client)
    browser = carry_cookies(client, rotate([OLD_KEY]))
    confirmed = press_button(browser, paths["confirm"])
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    opened = press_button(browser, paths["access"])
    assert opened.status_code == 303 and opened.headers["Location"] == "/my-data/email"
    assert browser.get("/my-data/email").status_code == 200
    assert browser.get(paths["unsubscribe"]).status_code == 200
    stranger = rotate([OLD_KEY]).test_client()  # one-click: no cookies at all
    assert stranger.post(paths["unsubscribe"]).status_code == 200


# --- With the old key removed ---------------------------------------------------------------------


def test_without_the_old_key_the_cart_empties_cleanly_and_the_banner_shows_again(app, client, rotate):
    tokens = browser_with_everything(app, client)
    browser = carry_cookies(client, rotate([]))

    cart = browser.get("/cart")
    assert cart.status_code == 200
    html = cart.get_data(as_text=True)
    assert "Your cart is empty" in html
    assert is_deleted(set_cookie_for(cart, "cart"))  # the unreadable cookie is removed
    assert BANNER in html
    assert set_cookie_for(cart, "visitor") is None  # no visitor id until the banner is acknowledged

    # A form opened before the rotation asks for a reload; nothing is stored and nothing breaks.
    data = {**tokens, **form_data(app, NEWSLETTER)}
    stale = browser.post(NEWSLETTER.url, data=data)
    assert stale.status_code == 400
    assert "reload the page" in stale.get_data(as_text=True)
    assert submit(browser, NEWSLETTER.url, form_data(app, NEWSLETTER)).status_code == 303


def test_without_the_old_key_staff_sign_in_again(app, client, rotate):
    signed_in(app, client)
    browser = carry_cookies(client, rotate([]))
    response = browser.get("/admin/")
    assert response.status_code in (302, 303) and "/admin/login" in response.headers["Location"]


def test_without_the_old_key_old_mailed_links_fail_with_a_clear_page(app, client, rotate):
    paths = link_paths(app, client)
    browser = carry_cookies(client, rotate([]))
    for name in ("confirm", "access"):
        page = browser.get(paths[name])
        assert page.status_code == 400, name
        assert "This link is not valid" in page.get_data(as_text=True)


def test_unsubscribe_links_outlive_the_key_that_was_current_when_they_were_mailed(app, client, rotate):
    paths = link_paths(app, client)
    new_app = rotate([])
    assert "Unsubscribe" in new_app.test_client().get(paths["unsubscribe"]).get_data(as_text=True)
    one_click = new_app.test_client().post(paths["unsubscribe"])  # no cookies, no form token
    assert one_click.status_code == 200
    assert "unsubscribed" in one_click.get_data(as_text=True).lower()
    with new_app.app_context():
        assert db.session.execute(db.text("SELECT status FROM subscription")).scalar_one() == "unsubscribed"


def test_a_signed_unsubscribe_link_mailed_before_tokens_were_stored_follows_the_key(app, client, rotate):
    assert submit(client, NEWSLETTER.url, form_data(app, NEWSLETTER)).status_code == 303
    with app.app_context():
        subscription_id = db.session.execute(db.text("SELECT id FROM subscription")).scalar_one()
        legacy = f"/newsletter/unsubscribe/{serializer('unsubscribe').dumps(subscription_id)}"
    refused = rotate([]).test_client().post(legacy)
    assert refused.status_code == 400 and "This link is not valid" in refused.get_data(as_text=True)
    assert rotate([OLD_KEY]).test_client().post(legacy).status_code == 200
    with app.app_context():
        assert db.session.execute(db.text("SELECT status FROM subscription")).scalar_one() == "unsubscribed"
