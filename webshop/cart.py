"""The shopping cart, kept in the signed cookie ``cart``.

Written the way Flask's ``sessions.py`` writes the session: the cart is
opened from the cookie before the view (:func:`open_cart`) and saved after
it (:func:`save_cart`), and nothing else touches the cookie. The cookie
registry signs it with its own salt and accepts the fallback keys; a bad or
expired cookie becomes an empty cart (never an error), and the cookie is
written only when the cart changed. The payload is product ids and
quantities, nothing else; prices always come from the database.
"""

import logging
from dataclasses import dataclass

from flask import flash, g, request

from . import cookies
from .db import db
from .models import Product

log = logging.getLogger(__name__)

COOKIE = "cart"
MAX_COOKIE_BYTES = 4093  # the whole Set-Cookie value, attributes included
MIN_QUANTITY, MAX_QUANTITY = 1, 99


class Cart:
    """Product id → quantity, in the order the shopper added them."""

    def __init__(self, lines: dict[int, int] | None = None):
        self.lines: dict[int, int] = dict(lines or {})
        self.modified = False
        # The Set-Cookie header of a changed cart, made once: the one measured against the size limit is the one sent.
        self.cookie_header: str | None = None

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def count(self) -> int:
        """Number of items, as shown in the header."""
        return sum(self.lines.values())

    def quantity(self, product_id: int) -> int:
        return self.lines.get(product_id, 0)

    def payload(self) -> list[list[int]]:
        """What the cookie holds: ``[[product id, quantity], ...]``."""
        return payload_of(self.lines)

    def set(self, product_id: int, quantity: int) -> bool:
        """Set a line's quantity (0 removes it). False if the cookie would overflow."""
        changed = dict(self.lines)
        if quantity <= 0:
            changed.pop(product_id, None)
        else:
            changed[product_id] = min(quantity, MAX_QUANTITY)
        return self._replace(changed)

    def add(self, product_id: int, quantity: int = 1) -> bool:
        return self.set(product_id, self.quantity(product_id) + quantity)

    def remove(self, product_id: int) -> None:
        self.set(product_id, 0)

    def clear(self) -> None:
        self._replace({})

    def _replace(self, lines: dict[int, int]) -> bool:
        if lines == self.lines:
            return True
        header = cookies.set_cookie_header(COOKIE, cookies.sign(COOKIE, payload_of(lines))) if lines else None
        if header and len(header) > MAX_COOKIE_BYTES:
            return False
        self.lines, self.modified, self.cookie_header = lines, True, header
        return True


@dataclass
class PricedLine:
    product: Product
    quantity: int

    @property
    def total_cents(self) -> int:
        return self.product.price_cents * self.quantity


def payload_of(lines: dict[int, int]) -> list[list[int]]:
    return [[pid, qty] for pid, qty in lines.items()]


def lines_from(payload) -> dict[int, int]:
    """Cart lines from a cookie's verified payload (None: no usable cookie); anything unusable is an empty cart."""
    if payload is None:
        return {}
    lines = _valid_lines(payload)
    if lines is None:
        log.warning("cart cookie had a signed but malformed payload; starting an empty cart")
        return {}
    return lines


def _valid_lines(payload) -> dict[int, int] | None:
    if not isinstance(payload, list):
        return None
    lines: dict[int, int] = {}
    for item in payload:
        if not (isinstance(item, list) and len(item) == 2):
            return None
        pid, qty = item
        if not all(type(n) is int for n in (pid, qty)):
            return None
        if pid <= 0 or not MIN_QUANTITY <= qty <= MAX_QUANTITY or pid in lines:
            return None
        lines[pid] = qty
    return lines


def priced_lines(cart: Cart) -> list[PricedLine]:
    """The cart's lines with products and prices from the database.

    Lines for products that no longer exist or were withdrawn are dropped
    from the cart, and the shopper is told which.
    """
    if not cart.lines:
        return []
    found = {p.id: p for p in db.session.execute(db.select(Product).where(Product.id.in_(list(cart.lines)))).scalars()}
    lines, dropped = [], []
    for pid, qty in list(cart.lines.items()):
        product = found.get(pid)
        if product is None or not product.active:
            dropped.append(product.name if product else f"item #{pid}")
            cart.remove(pid)
        else:
            lines.append(PricedLine(product, qty))
    if dropped:
        flash(
            "Removed from your cart because they are no longer sold: " + ", ".join(dropped) + ".",
            "notice",
        )
    return lines


def open_cart():
    """Put this request's cart in ``g.cart``, from the cookie (before the view)."""
    if request.endpoint == "static":
        return
    g.cart = Cart(lines_from(cookies.read(COOKIE)))
    if request.cookies.get(COOKIE) and not g.cart.lines:
        g.cart.modified = True  # a bad cookie is replaced by an empty one


def save_cart(response):
    """Write the cookie if the view changed the cart (after the view)."""
    cart = g.get("cart")
    if cart is None:
        return response
    response.vary.add("Cookie")
    if cart.modified:
        if cart.cookie_header:
            # The header made when the change was checked against the cookie's size: signed and built once.
            cookies.write_header(response, cart.cookie_header)
        elif cart.lines:
            cookies.write(response, COOKIE, cart.payload())
        else:
            cookies.delete(response, COOKIE)
    return response


def init_app(app):
    app.before_request(open_cart)
    app.after_request(save_cart)

    @app.context_processor
    def cart_in_templates():
        return {"cart": g.get("cart") or Cart()}
