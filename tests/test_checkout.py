"""Checkout turns the cart into an order at database prices, and keeps what was typed on error."""

import pytest

from tests.support.cart import add_to_cart, product_id
from tests.support.my_data import open_access
from tests.support.pages import is_checked, submit
from webshop.db import db
from webshop.models import Order, Product, Submission

GOOD = {
    "name": "Grace Hopper",
    "email": "grace@example.org",
    "address": "1 Compiler Court, Arlington, VA",
}


def orders(app):
    with app.app_context():
        return db.session.execute(db.select(Order)).scalars().all()


def test_empty_cart_cannot_check_out(client):
    response = client.get("/checkout")
    assert response.status_code == 303 and response.headers["Location"] == "/cart"


def test_order_is_created_at_current_prices_and_cart_is_emptied(client, app):
    add_to_cart(client, app, "aurora-x1", 2)
    add_to_cart(client, app, "gan-charger-65", 1)
    with app.app_context():
        charger = db.session.execute(db.select(Product).where(Product.slug == "gan-charger-65")).scalar_one()
        charger.price_cents = 3900  # a price change after adding is honoured
        db.session.commit()
    response = submit(client, "/checkout", GOOD)
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    (order,) = orders(app)
    assert order.number in page.get_data(as_text=True)
    assert order.total_cents == 2 * 64900 + 3900
    with app.app_context():
        order = db.session.get(Order, order.id)
        assert [(line.product_name, line.unit_price_cents, line.quantity) for line in order.lines] == [
            ("Aurora X1 Phone", 64900, 2),
            ("GaN Charger 65 W", 3900, 1),
        ]
        assert (order.name, order.email) == ("Grace Hopper", "grace@example.org")
    assert client.get_cookie("cart") is None
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)


def test_order_confirmation_repeats_the_shipping_address_but_not_the_email(client, app):
    add_to_cart(client, app, "aurora-x1")
    response = submit(client, "/checkout", GOOD)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Grace Hopper<br>1 Compiler Court, Arlington, VA</address>" in page
    assert "grace@example.org" not in page


def test_an_order_page_opens_only_in_the_browser_that_placed_it(client, app):
    add_to_cart(client, app, "aurora-x1")
    location = submit(client, "/checkout", GOOD).headers["Location"]
    (order,) = orders(app)
    own = client.get(location).get_data(as_text=True)
    assert order.number in own and "Aurora X1 Phone" in own and "/receipt/" in own
    copier = app.test_client()  # holds copies of every cookie of the buyer's but the session
    for name in ("cart", "consent", "visitor"):
        if cookie := client.get_cookie(name):
            copier.set_cookie(name, cookie.value)
    for stranger in (app.test_client(), copier):
        page = stranger.get(location)
        html = page.get_data(as_text=True)
        assert page.status_code == 404
        for detail in ("Grace", "grace@", "g***@", "Compiler Court", "Aurora X1", "/receipt/", "order-number"):
            assert detail not in html, detail
        # An unknown number gets the same answer, so a stranger cannot tell which numbers exist.
        unknown = stranger.get("/order/WS-000000000000")
        assert unknown.status_code == 404 and "This order is not shown here" in html
        assert "This order is not shown here" in unknown.get_data(as_text=True)


def test_an_order_page_opens_through_your_data_for_its_address(client, app):
    add_to_cart(client, app, "aurora-x1")
    location = submit(client, "/checkout", GOOD).headers["Location"]
    owner_elsewhere = app.test_client()
    assert owner_elsewhere.get(location).status_code == 404
    open_access(owner_elsewhere, app, GOOD["email"])
    page = owner_elsewhere.get(location)
    assert page.status_code == 200 and "Aurora X1 Phone" in page.get_data(as_text=True)
    someone_else = app.test_client()
    open_access(someone_else, app, "someone.else@example.org")
    assert someone_else.get(location).status_code == 404


def test_opt_out_boxes_are_unticked_by_default_and_stored_with_the_order(client, app):
    add_to_cart(client, app, "aurora-x1")
    form = client.get("/checkout").get_data(as_text=True)
    assert 'name="no_marketing"' in form and 'name="no_share"' in form
    assert "checked" not in form
    assert "marketing" in form and "share" in form
    assert 'href="/privacy#consent"' in form
    submit(client, "/checkout", {**GOOD, "no_marketing": "y"})
    with app.app_context():
        submission = db.session.execute(db.select(Submission)).scalar_one()
        assert submission.kind == "order"
        assert submission.no_marketing is True and submission.no_share is False
        assert submission.policy_version


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("name", "", "Enter your name."),
        ("name", "x" * 121, "Keep the name under 120 characters."),
        ("email", "", "Enter your email address."),
        ("email", "not-an-address", "must have an @-sign"),
        ("email", "a@b@example.org", "invalid characters"),
        ("address", "", "Enter the address to ship to."),
        ("address", "short", "Enter a full shipping address"),
    ],
)
def test_each_validation_error_keeps_values_and_stores_nothing(client, app, field, value, message):
    add_to_cart(client, app, "aurora-x1")
    data = {**GOOD, field: value, "no_share": "y"}
    response = submit(client, "/checkout", data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert message in page
    assert f'id="{field}-error"' in page
    for other, kept in data.items():
        if other not in (field, "no_share") and kept:
            assert kept in page
    assert is_checked(page, id="no_share")  # the opt-out box stays ticked
    assert not is_checked(page, id="no_marketing")  # and only the one that was ticked
    assert orders(app) == []
    assert client.get_cookie("cart") is not None  # the cart is kept


def test_checkout_without_csrf_token_is_rejected_and_stores_nothing(client, app):
    add_to_cart(client, app, "aurora-x1")
    client.get("/checkout")
    response = client.post("/checkout", data=GOOD)
    assert response.status_code == 400
    assert "Form expired" in response.get_data(as_text=True)
    assert orders(app) == []


def test_product_id_of_cart_line_is_the_only_thing_trusted_from_the_cookie(client, app):
    add_to_cart(client, app, "sprout-book")
    submit(client, "/checkout", GOOD)
    (order,) = orders(app)
    assert order.total_cents == 39900
    assert product_id(app, "sprout-book") > 0
