"""Keep secrets and email addresses out of visit rows and log lines.

Paths, query strings and referrers are stored and logged only after passing
through :func:`redact_path`, :func:`redact_query` and :func:`redact_url`:
values of token-like query parameters, path segments that look like a
signed value or a random token, and the local part of email addresses are
replaced. Anything that is not recognised as safe stays readable, so the
visit log still says which page was asked for.
"""

import re
from urllib.parse import urlsplit, urlunsplit

REDACTED = "[redacted]"

# Query parameters whose value is a credential, a link token or personal data.
SECRET_PARAMS = frozenset(
    {
        "token", "t", "key", "sig", "signature", "code", "auth", "password", "passwd",
        "secret", "session", "csrf_token", "access_token", "refresh_token", "id_token",
        "api_key", "apikey", "email", "e", "mail", "address", "name", "phone",
    }
)

EMAIL_RE = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@|%40)", re.ASCII)
# itsdangerous values (payload.timestamp.signature) and long random tokens.
SIGNED_RE = re.compile(r"^[A-Za-z0-9_\-=]+\.[A-Za-z0-9_\-=]+\.[A-Za-z0-9_\-=]+$")
TOKEN_CHARS_RE = re.compile(r"^[A-Za-z0-9_\-=.~]{20,}$")


def mask_emails(text: str) -> str:
    """``alice@example.org`` becomes ``a***@example.org``."""
    if "@" not in text and "%40" not in text:
        return text
    return EMAIL_RE.sub(r"\1***\2", text)


def looks_like_token(segment: str) -> bool:
    """A signed value, or a long run of token characters mixing case or digits.

    Product slugs (lower-case words joined by hyphens) are not tokens.
    """
    if len(segment) < 20:
        return False
    if SIGNED_RE.match(segment):
        return True
    if not TOKEN_CHARS_RE.match(segment):
        return False
    has_upper = any(c.isupper() for c in segment)
    digits = sum(c.isdigit() for c in segment)
    return has_upper or "_" in segment or digits >= 6


def redact_path(path: str) -> str:
    if len(path) >= 20 and any(looks_like_token(part) for part in path.split("/")):
        path = "/".join(REDACTED if looks_like_token(part) else part for part in path.split("/"))
    return mask_emails(path)


def redact_query(query: str) -> str:
    if not query:
        return query
    parts = []
    for pair in query.split("&"):
        name, sep, value = pair.partition("=")
        if sep and value and (name.lower() in SECRET_PARAMS or looks_like_token(value)):
            value = REDACTED
        parts.append(f"{name}{sep}{value}")
    return mask_emails("&".join(parts))


def redact_url(url: str) -> str:
    """A URL (such as a referrer) with its path and query redacted."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask_emails(url)
    netloc = parts.netloc.rpartition("@")[2]  # never keep user:password@
    return urlunsplit(
        (parts.scheme, netloc, redact_path(parts.path), redact_query(parts.query), "")
    )
