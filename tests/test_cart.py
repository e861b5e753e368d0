"""The signed-cookie cart: what it holds, how it is checked, how it fails safe."""

import json
import logging
import time
import zlib

import pytest
from itsdangerous import URLSafeTimedSerializer, base64_decode

from tests.support.cart import add_to_cart, product_id
from tests.support.pages import submit
from webshop import cookies
from webshop.cart import MAX_COOKIE_BYTES, Cart
from webshop.cookies import serializer
from webshop.db import db
from webshop.models import Product


def cart_cookie(client):
    cookie = client.get_cookie("cart")
    return cookie.value if cookie else None


def cart_payload(app, client):
    with app.test_request_context():
        return serializer("cart").loads(cart_cookie(client))


def test_adding_puts_ids_and_quantities_in_a_signed_cookie(client, app):
    response = add_to_cart(client, app, "aurora-x1", 2)
    assert response.status_code == 303
    add_to_cart(client, app, "tidal-buds")
    add_to_cart(client, app, "aurora-x1", 1)
    assert cart_payload(app, client) == [
        [product_id(app, "aurora-x1"), 3],
        [product_id(app, "tidal-buds"), 1],
    ]
    page = client.get("/cart").get_data(as_text=True)
    assert "Aurora X1 Phone" in page and "Tidal Buds" in page
    assert "€2,076.00" in page  # 3 × 649 + 129


def test_cookie_attributes_and_cart_page_headers(client, app):
    add_to_cart(client, app, "aurora-x1")
    cookie = client.get_cookie("cart")
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure
    assert cookie.expires is not None  # lasts beyond the browser session
    response = client.get("/cart")
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "Cookie" in response.headers["Vary"]


def test_cookie_is_secure_when_the_site_is_served_over_https(client, app):
    submit(
        client,
        "/product/aurora-x1",
        {"product_id": product_id(app, "aurora-x1"), "quantity": 1},
        action="/cart/add",
        base_url="https://localhost",
        headers={"Referer": "https://localhost/product/aurora-x1"},  # checked on HTTPS
    )
    assert client.get_cookie("cart", domain="localhost").secure


def test_payload_holds_no_prices_or_personal_data(client, app):
    add_to_cart(client, app, "ledger-16-pro", 1)
    raw = cart_cookie(client)
    compressed = raw.startswith(".")
    decoded = base64_decode(raw.lstrip(".").split(".")[0])  # payload.timestamp.signature
    text = (zlib.decompress(decoded) if compressed else decoded).decode()
    assert json.loads(text) == [[product_id(app, "ledger-16-pro"), 1]]
    assert "189900" not in text


def test_prices_come_from_the_database_not_the_cookie(client, app):
    add_to_cart(client, app, "stride-band", 2)
    with app.app_context():
        product = db.session.execute(db.select(Product).where(Product.slug == "stride-band")).scalar_one()
        product.price_cents = 6500
        db.session.commit()
    assert "€130.00" in client.get("/cart").get_data(as_text=True)


def test_change_quantity_remove_and_empty(client, app):
    add_to_cart(client, app, "aurora-x1")
    add_to_cart(client, app, "tidal-buds")
    pid = product_id(app, "aurora-x1")
    submit(client, "/cart", {"product_id": pid, "quantity": 7}, action="/cart/update")
    assert cart_payload(app, client)[0] == [pid, 7]
    submit(client, "/cart", {"product_id": pid}, action="/cart/remove")
    assert [line[0] for line in cart_payload(app, client)] == [product_id(app, "tidal-buds")]
    submit(client, "/cart", {}, action="/cart/empty")
    assert cart_cookie(client) is None
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)


@pytest.mark.parametrize("quantity", [0, 100, -3, "two", ""])
def test_quantity_outside_1_to_99_is_refused_with_a_message(client, app, quantity):
    add_to_cart(client, app, "aurora-x1", 4)
    response = submit(
        client, "/cart", {"product_id": product_id(app, "aurora-x1"), "quantity": quantity}, action="/cart/update"
    )
    assert response.status_code == 303
    page = client.get("/cart").get_data(as_text=True)
    assert "quantity" in page.lower()
    assert cart_payload(app, client)[0][1] == 4  # unchanged


def test_unknown_product_is_a_clean_404_and_bad_id_a_400(client, app):
    assert submit(client, "/cart", {"product_id": 99999, "quantity": 1}, action="/cart/add").status_code == 404
    assert submit(client, "/cart", {"product_id": "x", "quantity": 1}, action="/cart/add").status_code == 400


def test_withdrawn_product_is_dropped_with_a_notice(client, app):
    add_to_cart(client, app, "orbit-ring")
    add_to_cart(client, app, "stylus-pro")
    with app.app_context():
        product = db.session.execute(db.select(Product).where(Product.slug == "orbit-ring")).scalar_one()
        product.active = False
        db.session.commit()
    page = client.get("/cart").get_data(as_text=True)
    assert "no longer sold: Orbit Ring" in page
    assert [line[0] for line in cart_payload(app, client)] == [product_id(app, "stylus-pro")]


def test_product_deleted_from_the_database_is_dropped(client, app):
    with app.test_request_context():
        forged = serializer("cart").dumps([[424242, 1], [product_id(app, "stylus-pro"), 2]])
    client.set_cookie("cart", forged)
    page = client.get("/cart").get_data(as_text=True)
    assert "no longer sold: item #424242" in page
    assert "Stylus Pro" in page


def bad_cookie_cases(app):
    with app.test_request_context():
        good = serializer("cart").dumps([[1, 1]])
        foreign_salt = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="something-else").dumps([[1, 1]])
        wrong_key = URLSafeTimedSerializer("another-key", salt="webshop.cart").dumps([[1, 1]])
        malformed = serializer("cart").dumps({"1": 1})
        over_quantity = serializer("cart").dumps([[1, 500]])
    return {
        "tampered": good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        "truncated": good[: len(good) // 2],
        "foreign salt": foreign_salt,
        "wrong key": wrong_key,
        "garbage": "%%%not-a-cookie%%%",
        "signed but malformed": malformed,
        "signed but quantity 500": over_quantity,
    }


@pytest.mark.parametrize(
    "case",
    [
        "tampered",
        "truncated",
        "foreign salt",
        "wrong key",
        "garbage",
        "signed but malformed",
        "signed but quantity 500",
    ],
)
def test_bad_cookie_becomes_an_empty_cart_with_a_warning(client, app, case, caplog):
    client.set_cookie("cart", bad_cookie_cases(app)[case])
    with caplog.at_level(logging.WARNING, logger="webshop.cart"):
        response = client.get("/cart")
    assert response.status_code == 200
    assert "Your cart is empty" in response.get_data(as_text=True)
    assert any(r.levelno == logging.WARNING and r.name in ("webshop.cart", "webshop.cookies") for r in caplog.records)
    assert "cart=;" in response.headers["Set-Cookie"]  # the bad cookie is cleared


def test_expired_cookie_becomes_an_empty_cart(client, app, monkeypatch):
    add_to_cart(client, app, "aurora-x1")
    later = time.time() + app.config["CART_MAX_AGE_DAYS"] * 86400 + 60
    monkeypatch.setattr(time, "time", lambda: later)
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)


def test_cart_signed_with_a_fallback_key_still_works(tmp_path, database):
    from webshop import create_app

    old = create_app({"SECRET_KEY": "old-key", "SQLALCHEMY_DATABASE_URI": database}, instance_path=str(tmp_path))
    with old.test_request_context():
        value = serializer("cart").dumps([[1, 2]])
    new = create_app(
        {"SECRET_KEY": "new-key", "SECRET_KEY_FALLBACKS": ["old-key"], "SQLALCHEMY_DATABASE_URI": database},
        instance_path=str(tmp_path),
    )
    client = new.test_client()
    client.set_cookie("cart", value)
    assert "Aurora X1 Phone" in client.get("/cart").get_data(as_text=True)
    without = create_app({"SECRET_KEY": "new-key", "SQLALCHEMY_DATABASE_URI": database}, instance_path=str(tmp_path))
    client = without.test_client()
    client.set_cookie("cart", value)
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)


def test_a_change_to_the_cart_is_signed_once_and_that_value_is_the_cookie(client, app, monkeypatch):
    client.get("/product/hush-anc")  # the page that holds the form, with its own cookies
    signed = []
    dumps = URLSafeTimedSerializer.dumps

    def noting_dumps(self, obj, *args, **kwargs):
        value = dumps(self, obj, *args, **kwargs)
        if self.salt == cookies.REGISTRY["cart"].salt.encode():
            signed.append(value)
        return value

    monkeypatch.setattr(URLSafeTimedSerializer, "dumps", noting_dumps)
    add_to_cart(client, app)
    assert len(signed) == 1
    assert cart_cookie(client) == signed[0]
    assert cart_payload(app, client) == [[product_id(app, "hush-anc"), 1]]


def test_a_change_to_the_cart_builds_its_set_cookie_header_once_and_sends_that_header(client, app, monkeypatch):
    import werkzeug.sansio.response

    client.get("/product/hush-anc")
    built = []

    def noting(module):
        dump = module.dump_cookie

        def noting_dump_cookie(key, *args, **kwargs):
            header = dump(key, *args, **kwargs)
            if key == "cart":
                built.append(header)
            return header

        monkeypatch.setattr(module, "dump_cookie", noting_dump_cookie)

    noting(cookies)
    noting(werkzeug.sansio.response)
    response = add_to_cart(client, app)
    assert response.status_code == 303
    [header] = built  # measured against the size limit, then sent as it is
    assert [h for h in response.headers.getlist("Set-Cookie") if h.startswith("cart=")] == [header]
    assert cart_payload(app, client) == [[product_id(app, "hush-anc"), 1]]


def test_cart_never_exceeds_4093_bytes_and_refuses_the_item_that_would_not_fit(app):
    with app.test_request_context():
        cart = Cart()
        pid = 1
        while cart.add(pid * 7919, 99):  # spread-out ids compress poorly
            pid += 1
        assert len(cart.lines) > 100
        before = dict(cart.lines)
        assert len(cookies.set_cookie_header("cart", cookies.sign("cart", cart.payload()))) <= MAX_COOKIE_BYTES
        assert not cart.add(pid * 7919, 99)  # the line that did not fit still does not
        assert cart.lines == before


def test_full_cart_tells_the_shopper_and_changes_nothing(client, app):
    aurora = product_id(app, "aurora-x1")
    with app.test_request_context():
        cart = Cart()
        filler = 1
        while cart.add(filler * 7919, 99):
            filler += 1
        for small in range(100_000, 100_500):  # top up until not even one Aurora fits
            if not Cart(cart.lines).add(aurora, 1):
                break
            cart.add(small, 1)
        assert not Cart(cart.lines).add(aurora, 1)
        full = serializer("cart").dumps(cart.payload())
    client.set_cookie("cart", full)
    response = submit(client, "/product/aurora-x1", {"product_id": aurora, "quantity": 1}, action="/cart/add")
    assert "cart=" not in response.headers.get("Set-Cookie", "")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your cart is full" in page and "nothing was changed" in page


def test_header_count_reflects_the_cart(client, app):
    add_to_cart(client, app, "aurora-x1", 3)
    header = client.get("/").get_data(as_text=True)
    assert '<span class="count">3</span><span class="visually-hidden"> items</span>' in header


CART_POSTS = {
    "/cart/add": lambda pid: {"product_id": pid, "quantity": 2},
    "/cart/update": lambda pid: {"product_id": pid, "quantity": 3},
    "/cart/remove": lambda pid: {"product_id": pid},
    "/cart/empty": lambda pid: {},
}


@pytest.mark.parametrize("action", CART_POSTS)
def test_a_cart_post_without_its_token_is_refused_and_changes_nothing(client, app, action):
    add_to_cart(client, app)
    before = cart_cookie(client)
    response = client.post(action, data=CART_POSTS[action](product_id(app)))
    assert response.status_code == 400
    assert cart_cookie(client) == before


@pytest.mark.parametrize("action", CART_POSTS)
def test_a_cart_post_that_redirects_signs_no_new_csrf_token(client, app, monkeypatch, action):
    import flask_wtf.csrf

    from tests.support.pages import csrf_token_from

    add_to_cart(client, app)
    before = cart_cookie(client)
    token = csrf_token_from(client.get("/cart").get_data(as_text=True))
    made = []
    generate = flask_wtf.csrf.generate_csrf
    monkeypatch.setattr(flask_wtf.csrf, "generate_csrf", lambda *a, **k: made.append(1) or generate(*a, **k))
    response = client.post(action, data={"csrf_token": token, **CART_POSTS[action](product_id(app))})
    assert response.status_code == 303 and cart_cookie(client) != before
    assert made == []  # the token checked was the page's; nothing shown needs a new one
