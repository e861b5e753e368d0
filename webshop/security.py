"""Security baseline: the host and request checks, CSRF, response headers, cookie flags, error pages.

Its hooks run after consent and visitor identity (see ``create_app``), so a
request they refuse is still recorded with its signals and address.
"""

import logging

from flask import abort, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from .config import LOOPBACK_HOSTS
from .cookies import is_secure_request
from .text import wait_text
from .visits.redact import redact_path

log = logging.getLogger(__name__)

csrf = CSRFProtect()

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed session, marked Secure whenever the request is."""

    def get_cookie_secure(self, app):
        return is_secure_request()


def add_security_headers(response):
    """Add each of ``HEADERS`` that the view did not set itself, in one pass over the response's headers."""
    present = {name.lower() for name in response.headers.keys()}
    response.headers.extend([(name, value) for name, value in HEADERS.items() if name.lower() not in present])
    return response


ERROR_TEXT = {
    400: ("Bad request", "The request could not be understood. Nothing was stored."),
    403: ("Not allowed", "You are not allowed to see this page."),
    404: ("Not found", "There is no page at this address."),
    405: ("Not allowed", "This page cannot be used that way."),
    413: ("Too large", "What you sent is larger than this shop accepts. Nothing was stored."),
    429: (
        "Too many requests",
        "This address sent more requests of this kind than the shop accepts in a short time, "
        "so this one was turned away and nothing you sent was stored.",
    ),
    500: ("Something went wrong", "The shop hit an error. It has been logged; please try again."),
    503: ("Temporarily unavailable", "The shop cannot reach its database right now. Please try again shortly."),
}


def render_error(error, retry_after: int | None = None):
    """The error page; ``retry_after`` (seconds) says when to try again and sets ``Retry-After``."""
    if not isinstance(error, HTTPException):
        log.exception("unhandled error on %s %s", request.method, redact_path(request.path))
        code = 500
    else:
        code = error.code or 500
    title, text = ERROR_TEXT.get(code, ("Error", "The request could not be completed."))
    if isinstance(error, CSRFError) and not request.cookies:
        title = "Cookies needed for forms"
        text = (
            "Your browser refused our cookies, so nothing was stored. Forms on this "
            "site carry an anti-forgery check kept in the session cookie, and the "
            "cart lives in the cart cookie; browsing works without them. Allow "
            "cookies for this site to shop or send a form."
        )
    elif isinstance(error, CSRFError):
        title = "Form expired"
        text = (
            "This form's security token was missing or out of date, so nothing was "
            "stored. Go back, reload the page and send it again."
        )
    headers = {}
    if retry_after is not None:
        text += f" Please wait {wait_text(retry_after)}, then try again."
        headers["Retry-After"] = str(retry_after)
    try:
        return render_template("error.html", code=code, title=title, text=text), code, headers
    except Exception:  # e.g. no URL adapter for an untrusted Host: answer in plain text
        log.debug("error page could not be rendered", exc_info=True)
        headers["Content-Type"] = "text/plain; charset=utf-8"
        return f"{title}\n\n{text}\n", code, headers


def refuse_malformed_request():
    """400 for a query string that is not UTF-8 or a NUL in the path or query;
    413 for a body over the limit; before any view.

    Werkzeug decodes ``request.args`` strictly, so such a query would fail in
    whichever view read it. A body is refused by its declared length even
    where the view never reads it.
    """
    try:
        request.query_string.decode()
    except UnicodeDecodeError:
        abort(400)
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        abort(413)
    if "\x00" in request.path or has_nul(request.args):
        abort(400)


def has_nul(values) -> bool:
    """Whether a NUL is anywhere in ``values`` (a MultiDict): no address or search here
    holds one, and PostgreSQL could not even be asked about it. (Forms refuse it field
    by field, with a message beside the field.)"""
    return any("\x00" in key or any("\x00" in value for value in found) for key, found in values.lists())


class IntegerColumnConverter(IntegerConverter):
    """``<int:...>`` in routes, up to the largest value of an INTEGER column: an id beyond it is simply not found."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def check_host():
    """Refuse a Host header outside ``TRUSTED_HOSTS`` (werkzeug raises a 400).

    Behind ``TRUSTED_PROXIES`` the host is the one ``X-Forwarded-Host``
    names (ProxyFix puts it in place), and it is checked the same way.
    """
    request.host  # noqa: B018 - reading it is the check


def warn_about_hosts(app) -> None:
    """A production start without the shop's own host name serves loopback only: say so."""
    if app.debug or app.testing or set(app.config["TRUSTED_HOSTS"]) != set(LOOPBACK_HOSTS):
        return
    log.warning(
        "Neither PUBLIC_URL nor TRUSTED_HOSTS is set: only requests for %s are served (any other Host "
        "gets 400) and links in mail use that host. Set PUBLIC_URL to the address customers use, "
        "e.g. FLASK_PUBLIC_URL=https://shop.example.org",
        " and ".join(LOOPBACK_HOSTS),
    )


def init_app(app):
    # Before any view-related hook: no view, form or cart is touched for a
    # host the shop does not serve or a request it cannot read.
    app.before_request(check_host)
    app.before_request(refuse_malformed_request)
    csrf.init_app(app)  # its check is a before_request hook too, registered here
    warn_about_hosts(app)
    app.session_interface = SessionInterface()
    app.after_request(add_security_headers)
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(Exception, render_error)
