"""Signed values: one serializer per salt, so a value signed for one purpose is refused for any other.

Every serializer signs with ``SECRET_KEY`` and also accepts values signed
with any key in ``SECRET_KEY_FALLBACKS``, so keys can be rotated without
emptying carts or breaking links already sent. Cookies take their salts from
the registry in :mod:`webshop.cookies`; the links mailed to people have
theirs here, and so does the single-use token every personal-information
form carries (:mod:`webshop.submissions`).
"""

import hashlib

from flask import current_app
from itsdangerous import URLSafeTimedSerializer

# The salts of the links mailed to people and of the forms' single-use tokens, by purpose.
SALTS = {
    "newsletter-confirm": "webshop.newsletter.confirm",
    "unsubscribe": "webshop.unsubscribe",
    "my-data": "webshop.my-data",
    "email-change": "webshop.email-change",
    "submission": "webshop.submission",
}


def serializer(purpose: str) -> URLSafeTimedSerializer:
    """The serializer of the mailed links (or the forms' tokens) for ``purpose``."""
    return salted(SALTS[purpose])


def salted(salt: str) -> URLSafeTimedSerializer:
    """The serializer with ``salt``, built once per application."""
    cache = current_app.extensions.setdefault("webshop.serializers", {})
    found = cache.get(salt)
    if found is None:
        config = current_app.config
        keys = [*config["SECRET_KEY_FALLBACKS"], config["SECRET_KEY"]]
        found = cache[salt] = URLSafeTimedSerializer(
            keys,
            salt=salt,
            signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
        )
    return found
