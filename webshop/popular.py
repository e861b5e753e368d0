"""The "popular now" shelf: products ranked by recent product-page visits.

Only successful ``GET /product/<slug>`` visits of the last
``POPULAR_DAYS`` days count, and none that came with a blocking signal.
The ranking is kept per process for ``POPULAR_CACHE_SECONDS``, as plain
snapshots of the products, so the home page usually pays no query for it.
``POPULAR_SIZE`` products are shown.
"""

import time
from dataclasses import dataclass
from datetime import timedelta
from threading import Lock

from flask import current_app
from sqlalchemy import func

from .db import db
from .models import Product, Visit, utcnow

PRODUCT_PREFIX = "/product/"
CACHE_KEY = "webshop.popular"
CONFIG = {"POPULAR_DAYS": 7, "POPULAR_SIZE": 4, "POPULAR_CACHE_SECONDS": 60}


@dataclass(frozen=True)
class ShelfProduct:
    """What a product card shows, detached from the database session."""

    slug: str
    name: str
    price_cents: int
    hue: int
    motif: str
    views: int


def rank_products(days: int, size: int) -> list[ShelfProduct]:
    """The ``size`` active products with the most counted visits in the last ``days`` days."""
    since = utcnow() - timedelta(days=days)
    counted = (
        db.select(Visit.path, func.count().label("views"))
        .where(
            Visit.time >= since,
            Visit.method == "GET",
            Visit.status == 200,
            Visit.blocking_signal.is_(False),
            Visit.path.startswith(PRODUCT_PREFIX),
        )
        .group_by(Visit.path)
        .subquery()
    )
    rows = db.session.execute(
        db.select(Product, counted.c.views)
        .join(counted, counted.c.path == PRODUCT_PREFIX + Product.slug)
        .where(Product.active.is_(True))
        .order_by(counted.c.views.desc(), Product.name)
        .limit(size)
    ).all()
    return [ShelfProduct(p.slug, p.name, p.price_cents, p.hue, p.motif, views) for p, views in rows]


class PopularCache:
    """The latest ranking and when it goes stale; one per application, per process."""

    def __init__(self):
        self.lock = Lock()
        self.expires = 0.0
        self.products: list[ShelfProduct] = []

    def get(self) -> list[ShelfProduct]:
        if time.monotonic() < self.expires:
            return self.products
        with self.lock:
            if time.monotonic() >= self.expires:  # another thread may have refreshed it meanwhile
                self.products = rank_products(setting("POPULAR_DAYS"), setting("POPULAR_SIZE"))
                self.expires = time.monotonic() + setting("POPULAR_CACHE_SECONDS")
        return self.products


def setting(name: str) -> int:
    return int(current_app.config[name])


def popular_now() -> list[ShelfProduct]:
    """The shelf's products, from this process's cache when it is fresh."""
    cache = current_app.extensions.get(CACHE_KEY)
    if cache is None:
        cache = current_app.extensions.setdefault(CACHE_KEY, PopularCache())
    return cache.get()
