"""The catalogue and the cart as a shopper uses them."""

from tests.support.pages import submit
from webshop.db import db
from webshop.models import Product


def product_id(app, slug="hush-anc") -> int:
    with app.app_context():
        return db.session.execute(db.select(Product.id).where(Product.slug == slug)).scalar_one()


def add_to_cart(client, app, slug="hush-anc", quantity=1):
    """Press "Add to cart" on the product's page."""
    return submit(
        client,
        f"/product/{slug}",
        {"product_id": product_id(app, slug), "quantity": quantity},
        action="/cart/add",
    )
