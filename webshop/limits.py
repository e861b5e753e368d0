"""Abuse limits: how often one client may post forms, chat, sign in and ask for links.

Limits are counted per client address, ``request.remote_addr`` (after
``ProxyFix`` when ``TRUSTED_PROXIES`` says so), the same address visit
recording uses. A browser that sends a blocking signal is limited by its
address too, but nothing about it is stored: the limiter keeps only a keyed
hash of the address, for the length of the window, in its own storage and
never in the database.

The limits are applied here to the views by endpoint name, so the views
themselves know nothing about them. Each is a Flask-Limiter rate string read
from the configuration at request time (``RATELIMIT_FORMS`` and friends,
also as ``FLASK_RATELIMIT_*`` variables). Counters live in memory by
default (``RATELIMIT_STORAGE_URI = "memory://"``), which is per worker
process; several workers or hosts share one count through shared storage,
e.g. ``FLASK_RATELIMIT_STORAGE_URI=redis://redis.internal:6379/0``.
"""

import hashlib
import hmac
import time

from flask import current_app, request
from flask_limiter import Limiter, RateLimitExceeded

from . import security

LIMITS_DEFAULTS = {
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_STRATEGY": "fixed-window",
    # Every personal-information form but chat, counted together per client.
    "RATELIMIT_FORMS": "10 per minute;100 per hour",
    "RATELIMIT_CHAT": "20 per minute;300 per hour",
    "RATELIMIT_CHAT_POLL": "120 per minute",  # the page polls every 2 s; a few tabs fit
    "RATELIMIT_SIGN_IN": "10 per minute;50 per hour",
    "RATELIMIT_MY_DATA_LINK": "5 per minute;20 per hour",
}

# endpoint -> (config key of its limit, HTTP methods limited, shared scope or None)
LIMITED_ENDPOINTS = {
    "newsletter.signup": ("RATELIMIT_FORMS", ["POST"], "forms"),
    "survey.survey": ("RATELIMIT_FORMS", ["POST"], "forms"),
    "registration.register": ("RATELIMIT_FORMS", ["POST"], "forms"),
    "contact.contact": ("RATELIMIT_FORMS", ["POST"], "forms"),
    "board.board": ("RATELIMIT_FORMS", ["POST"], "forms"),
    "checkout.checkout": ("RATELIMIT_FORMS", ["POST"], "forms"),
    "chat.chat": ("RATELIMIT_CHAT", ["POST"], None),
    "chat.messages": ("RATELIMIT_CHAT_POLL", ["GET"], None),
    "staff.login": ("RATELIMIT_SIGN_IN", ["POST"], None),
    "my_data.request_link": ("RATELIMIT_MY_DATA_LINK", ["POST"], None),
}

EXTENSION = "webshop.limiter"


def client_key() -> str:
    """The client's address as a keyed hash, so the limiter's storage never holds it."""
    address = (request.remote_addr or "unknown").encode("utf-8", "replace")
    key = current_app.config["SECRET_KEY"].encode()
    return "client:" + hmac.new(key, b"ratelimit:" + address, hashlib.sha256).hexdigest()[:32]


def configured(name: str):
    """A limit read from the configuration when the request is checked."""
    return lambda: current_app.config[name]


def seconds_to_wait() -> int:
    """Seconds until the limit this request broke lets the client in again."""
    limiter = current_app.extensions.get(EXTENSION)
    current = limiter.current_limit if limiter else None
    if current is None:
        return 60
    return max(1, int(current.reset_at - time.time()))


def too_many_requests(error: RateLimitExceeded):
    """The 429 page, saying when to try again, with the same figure in ``Retry-After``."""
    return security.render_error(error, retry_after=seconds_to_wait())


def init_app(app):
    for name, value in LIMITS_DEFAULTS.items():
        app.config.setdefault(name, value)
    if not app.config["RATELIMIT_ENABLED"]:
        return
    limiter = Limiter(client_key, app=app)
    app.extensions[EXTENSION] = limiter
    app.register_error_handler(RateLimitExceeded, too_many_requests)
    attach_limits(app, limiter)


def attach_limits(app, limiter: Limiter) -> None:
    """Wrap each limited view, by endpoint name, in its Flask-Limiter limit.

    The views must be registered already: ``init_app`` runs after the blueprints.
    """
    for endpoint, (config_key, methods, scope) in LIMITED_ENDPOINTS.items():
        view = app.view_functions[endpoint]  # a renamed view must not lose its limit quietly
        if scope:
            limit = limiter.shared_limit(configured(config_key), scope, methods=methods)
        else:
            limit = limiter.limit(configured(config_key), methods=methods)
        app.view_functions[endpoint] = limit(view)
