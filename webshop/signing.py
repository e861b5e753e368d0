"""Signed values: one serializer per purpose, each with a salt of its own.

Every serializer signs with ``SECRET_KEY`` and also accepts values signed
with any key in ``SECRET_KEY_FALLBACKS``, so keys can be rotated without
emptying carts or breaking links already sent.
"""

import hashlib

from flask import current_app
from itsdangerous import URLSafeTimedSerializer

SALTS = {
    "cart": "webshop.cart",
    "consent": "webshop.consent",
    "visitor": "webshop.visitor",
    "newsletter-confirm": "webshop.newsletter.confirm",
    "unsubscribe": "webshop.unsubscribe",
    "my-data": "webshop.my-data",
    "email-change": "webshop.email-change",
    "staff_device": "webshop.staff-device",
}


def serializer(purpose: str) -> URLSafeTimedSerializer:
    """The serializer for ``purpose``, built once per application."""
    cache = current_app.extensions.setdefault("webshop.serializers", {})
    found = cache.get(purpose)
    if found is None:
        config = current_app.config
        keys = [*config["SECRET_KEY_FALLBACKS"], config["SECRET_KEY"]]
        found = cache[purpose] = URLSafeTimedSerializer(
            keys,
            salt=SALTS[purpose],
            signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
        )
    return found
