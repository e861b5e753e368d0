"""Abuse limits: the one Flask-Limiter ``limiter``, counting per client address.

Each limited view carries its limit beside it, as a decorator:
``@limiter.limit(configured("RATELIMIT_CHAT"), methods=["POST"])``, with its
rate string read from the configuration at request time (``RATELIMIT_FORMS``
and friends, declared in the feature's ``CONFIG``, also settable as
``FLASK_RATELIMIT_*`` variables). ``flask limiter limits`` lists them all.

Limits are counted per client address, ``request.remote_addr`` (after
``ProxyFix`` when ``TRUSTED_PROXIES`` says so), the same address visit
recording uses. A browser that sends a blocking signal is limited by its
address too, but nothing about it is stored: the limiter keeps only a keyed
hash of the address, for the length of the window, in its own storage and
never in the database.

Counters live in memory by default (``RATELIMIT_STORAGE_URI =
"memory://"``), which is per worker process: with two workers a client can
make up to twice each limit, and the shop says so in its log at start.
Limits are exact across workers and hosts with Redis, e.g.
``FLASK_RATELIMIT_STORAGE_URI=redis://redis.internal:6379/0`` (the client
is in requirements.txt). If Redis goes away, pages keep working: the
limiter falls back to per-worker memory, logs "Rate limit storage
unreachable", and goes back to Redis when it answers again.

The limiter is created here unbound, like every extension, and bound by
:func:`init_app`. A process serves one application; binding it to another
(the tests build many in turn) starts that one's counts afresh.
"""

import hashlib
import hmac
import logging
import time

from flask import current_app, request
from flask_limiter import Limiter, RateLimitExceeded

from . import security

CONFIG = {
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_STRATEGY": "fixed-window",
    # When the shared storage is out of reach, count in this worker's memory rather than fail the request.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
}


def client_key() -> str:
    """The client's address as a keyed hash, so the limiter's storage never holds it."""
    address = (request.remote_addr or "unknown").encode("utf-8", "replace")
    key = current_app.config["SECRET_KEY"].encode()
    return "client:" + hmac.new(key, b"ratelimit:" + address, hashlib.sha256).hexdigest()[:32]


limiter = Limiter(client_key)
log = logging.getLogger(__name__)


def configured(name: str):
    """A limit read from the configuration when the request is checked."""
    return lambda: current_app.config[name]


def seconds_to_wait() -> int:
    """Seconds until the limit this request broke lets the client in again."""
    current = limiter.current_limit
    if current is None:
        return 60
    return max(1, int(current.reset_at - time.time()))


def too_many_requests(error: RateLimitExceeded):
    """The 429 page, saying when to try again, with the same figure in ``Retry-After``."""
    return security.render_error(error, retry_after=seconds_to_wait())


# Settings that set limits for every request rather than for one view.
APP_WIDE_LIMITS = ("RATELIMIT_DEFAULT", "RATELIMIT_APPLICATION", "RATELIMIT_META", "RATELIMIT_IN_MEMORY_FALLBACK")


def init_app(app):
    limiter.init_app(app)  # off when RATELIMIT_ENABLED is false
    check_every_request = limiter._check_request_limit
    hooks = app.before_request_funcs.get(None, [])
    if check_every_request in hooks and not any(app.config.get(name) for name in APP_WIDE_LIMITS):
        # Every limit sits on its view, which checks it when called; the limiter's
        # own before-request check would find nothing to count on any request.
        hooks.remove(check_every_request)
    if app.config["RATELIMIT_ENABLED"] and app.config["RATELIMIT_STORAGE_URI"].startswith("memory:"):
        log.info(
            "rate limits are counted in memory, per worker process: each worker allows the full limit; "
            "set RATELIMIT_STORAGE_URI=redis://... for limits that are exact across workers and hosts"
        )
    app.register_error_handler(RateLimitExceeded, too_many_requests)
