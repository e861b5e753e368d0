"""Who is asking: the client's IP address and this browser's visitor id.

The IP is ``request.remote_addr``. When ``TRUSTED_PROXIES`` is above zero the
app is wrapped in werkzeug's ``ProxyFix``, which alone reads
``X-Forwarded-For``; this code never parses that header itself. Whatever
arrives is validated with :mod:`ipaddress`; anything else is stored as
unknown and logged.

The visitor id is a random id in a signed cookie, issued only after the
consent banner was accepted and never while a blocking signal is sent (a
decline on the banner counts as one).
An id whose visits were erased is retired: a cookie still carrying it counts
as no cookie, so the request is recorded without it and gets a new id.

:func:`identify_visitor` runs right after consent, before anything can end
the request, so every later hook and the visit row read ``g.client_ip`` and
``g.visitor_id`` from it.
"""

import ipaddress
import logging
import secrets
from dataclasses import dataclass

from flask import current_app, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from .. import cookies
from ..shorten import stored_ip
from .retired import registry

log = logging.getLogger(__name__)

VISITOR_COOKIE = "visitor"


@dataclass(frozen=True)
class VisitorIdentity:
    """What visits and submissions store about who sent a request."""

    ip: str | None
    visitor_id: str | None
    domain: str | None = None
    domain_confirmed: bool = False


def valid_ip(value: str | None) -> str | None:
    """The address in canonical form, or None if ``value`` is not one IP address."""
    if not value or len(value) > 64:
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


def read_visitor_id() -> str | None:
    """The visitor id of this browser's cookie, unless it is unusable or retired."""
    visitor_id = cookies.read(VISITOR_COOKIE)
    if not isinstance(visitor_id, str) or not 8 <= len(visitor_id) <= 64:
        return None
    if registry().is_retired(visitor_id):
        return None
    return visitor_id


def identify_visitor():
    """Decide this request's IP and visitor id (before any view runs)."""
    if request.endpoint == "static":
        return
    raw = request.remote_addr
    ip = valid_ip(raw)
    if raw and ip is None:
        log.warning("client address is not a valid IP (%r); recorded as unknown", raw[:64])
    g.client_ip = ip
    g.visitor_id = None
    if g.get("blocking_signal"):
        g.client_ip = None
        return
    if g.get("consent_acknowledged"):
        g.visitor_id = read_visitor_id()


def issue_visitor_cookie(response):
    """Give an acknowledged, non-blocking browser a visitor id if it has none."""
    if request.endpoint == "static" or g.get("blocking_signal"):
        return response
    if g.get("consent_acknowledged") and not g.get("visitor_id"):
        g.visitor_id = secrets.token_urlsafe(16)
        cookies.write(response, VISITOR_COOKIE, g.visitor_id)
    return response


def current_identity() -> VisitorIdentity:
    """This request's identity as it is stored with visits and submissions.

    The domain is looked up by the full address, held in memory only; with
    ``IP_RETENTION_DAYS`` 0 the identity carries the address's network instead.
    """
    if g.get("blocking_signal"):
        return VisitorIdentity(ip=None, visitor_id=None)
    lookup = current_app.extensions.get("webshop.domain_lookup")
    ip = g.get("client_ip")
    domain, confirmed = (None, False)
    if lookup and ip:
        domain, confirmed = lookup(ip)
    return VisitorIdentity(
        ip=stored_ip(ip, current_app.config["IP_RETENTION_DAYS"]),
        visitor_id=g.get("visitor_id"),
        domain=domain,
        domain_confirmed=confirmed,
    )


def init_app(app):
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.before_request(identify_visitor)
    app.after_request(issue_visitor_cookie)
