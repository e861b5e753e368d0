"""Security baseline: CSRF, response headers on every response, cookie flags, error pages."""

import logging

from flask import render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from .cookies import is_secure_request

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
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


ERROR_TEXT = {
    400: ("Bad request", "The request could not be understood. Nothing was stored."),
    403: ("Not allowed", "You are not allowed to see this page."),
    404: ("Not found", "There is no page at this address."),
    405: ("Not allowed", "This page cannot be used that way."),
    413: ("Too large", "What you sent is larger than this shop accepts. Nothing was stored."),
    429: ("Too many requests", "Please wait a moment and try again."),
    500: ("Something went wrong", "The shop hit an error. It has been logged; please try again."),
    503: ("Temporarily unavailable", "The shop cannot reach its database right now. Please try again shortly."),
}


def render_error(error):
    if not isinstance(error, HTTPException):
        log.exception("unhandled error on %s %s", request.method, request.path)
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
    try:
        return render_template("error.html", code=code, title=title, text=text), code
    except Exception:  # e.g. no URL adapter for an untrusted Host: answer in plain text
        log.debug("error page could not be rendered", exc_info=True)
        return f"{title}\n\n{text}\n", code, {"Content-Type": "text/plain; charset=utf-8"}


def check_host():
    """Refuse a Host header outside TRUSTED_HOSTS (werkzeug raises a 400)."""
    request.host  # noqa: B018 - reading it is the check


def init_app(app):
    csrf.init_app(app)
    if app.config.get("TRUSTED_HOSTS"):
        app.before_request(check_host)
    app.session_interface = SessionInterface()
    app.after_request(add_security_headers)
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(Exception, render_error)
