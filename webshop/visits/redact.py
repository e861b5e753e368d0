"""Keep secrets and email addresses out of visit rows and log lines.

Paths, query strings and referrers are stored and logged only after passing
through :func:`redact_path`, :func:`redact_query` and :func:`redact_url`:
values of token-like query parameters, path segments that look like a
signed value, a random token or an order number, and the local part of
email addresses are replaced. Anything that is not recognised as safe stays
readable, so the visit log still says which page was asked for.

Every log line also passes through :func:`redact_text` (see ``logs.py``),
which finds paths, URLs and tokens inside free text, and its values through
:func:`escape_log_item`, so that no input can start a line of its own.
"""

import re
from urllib.parse import urlsplit, urlunsplit

REDACTED = "[redacted]"

# Query parameters whose value is a credential, a link token or personal data.
SECRET_PARAMS = frozenset(
    {
        "token",
        "t",
        "key",
        "sig",
        "signature",
        "code",
        "auth",
        "password",
        "passwd",
        "secret",
        "session",
        "csrf_token",
        "access_token",
        "refresh_token",
        "id_token",
        "api_key",
        "apikey",
        "email",
        "e",
        "mail",
        "address",
        "name",
        "phone",
    }
)

# Each starts only where a run of its characters starts, so a long run is scanned once, not once per character.
EMAIL_RE = re.compile(r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@|%40)", re.ASCII)
# itsdangerous values (payload.timestamp.signature) and long random tokens.
SIGNED_RE = re.compile(r"^[A-Za-z0-9_\-=]+\.[A-Za-z0-9_\-=]+\.[A-Za-z0-9_\-=]+$")
TOKEN_CHARS_RE = re.compile(r"^[A-Za-z0-9_\-=.~]{20,}$")
# Order numbers (checkout.new_order_number): whoever has one can open the order page.
ORDER_NUMBER_RE = re.compile(r"^WS-[0-9A-Fa-f]{8,}$")
# In free text: URLs, absolute paths, and runs of token characters.
URL_IN_TEXT_RE = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
PATH_IN_TEXT_RE = re.compile(r"(?<![^\s\"'(<=,\[])/[^\s\"'<>]*")
WORD_IN_TEXT_RE = re.compile(r"[A-Za-z0-9_\-=.~]{12,}")
ORDER_IN_TEXT_RE = re.compile(r"\bWS-[0-9A-Fa-f]{8,}\b")
UUID_IN_TEXT_RE = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
# Characters Apache writes as a backslash and a letter (ap_escape_logitem).
NAMED_ESCAPES = {0x08: b"\\b", 0x0A: b"\\n", 0x0D: b"\\r", 0x09: b"\\t", 0x0B: b"\\v"}


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


def secret_segment(segment: str) -> bool:
    """A path segment that opens something: a token, a signed value or an order number."""
    return looks_like_token(segment) or bool(ORDER_NUMBER_RE.match(segment))


def redact_path(path: str) -> str:
    parts = path.split("/")
    if any(secret_segment(part) for part in parts):
        path = "/".join(REDACTED if secret_segment(part) else part for part in parts)
    return mask_emails(path)


def redact_query(query: str) -> str:
    if not query:
        return query
    parts = []
    for pair in query.split("&"):
        name, sep, value = pair.partition("=")
        if sep and value and (name.lower() in SECRET_PARAMS or looks_like_token(value)):
            value = REDACTED
        elif sep and value:
            value = ORDER_IN_TEXT_RE.sub(REDACTED, value)
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
    return urlunsplit((parts.scheme, netloc, redact_path(parts.path), redact_query(parts.query), ""))


def secret_word(word: str) -> bool:
    """A word in free text that is a signed value or a random token.

    Stricter than :func:`looks_like_token`, because log messages also hold
    dotted names (``sqlite3.OperationalError``) and identifiers: a token
    here mixes upper and lower case with at least two digits, or is a
    signed value whose signature is long.
    """
    if len(word) < 20:
        return False
    digits = sum(c.isdigit() for c in word)
    mixed = any(c.isupper() for c in word) and any(c.islower() for c in word)
    if SIGNED_RE.match(word):
        return len(word.rsplit(".", 1)[1]) >= 20 and (digits >= 2 or "_" in word or "-" in word)
    return "." not in word and looks_like_token(word) and mixed and digits >= 2


def redact_text(text: str) -> str:
    """Free text (a log message, a traceback) with URLs, paths, tokens, order numbers,
    receipt ids and the local part of email addresses redacted."""
    if not text:
        return text
    text = URL_IN_TEXT_RE.sub(lambda found: redact_url(found[0]), text)
    text = PATH_IN_TEXT_RE.sub(lambda found: redact_target(found[0]), text)
    text = WORD_IN_TEXT_RE.sub(lambda found: REDACTED if secret_word(found[0]) else found[0], text)
    text = ORDER_IN_TEXT_RE.sub(REDACTED, text)
    text = UUID_IN_TEXT_RE.sub(REDACTED, text)
    return mask_emails(text)


def redact_target(target: str) -> str:
    """A path with an optional query string, each part redacted."""
    path, sep, query = target.partition("?")
    return redact_path(path) + sep + redact_query(query)


def escape_log_item(value: str | None) -> str:
    """A field as Apache writes it: ``-`` when empty, quotes, backslashes and controls escaped.

    Apache escapes bytes, so characters outside printable ASCII appear as
    ``\\xhh`` for each byte of their UTF-8 encoding.
    """
    if not value:
        return "-"
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return value
    out = bytearray()
    for byte in value.encode("utf-8", "surrogateescape"):
        if byte in NAMED_ESCAPES:
            out += NAMED_ESCAPES[byte]
        elif byte in (0x22, 0x5C):
            out += b"\\" + bytes([byte])
        elif byte < 0x20 or byte >= 0x7F:
            out += b"\\x%02x" % byte
        else:
            out.append(byte)
    return out.decode("ascii")


def escape_controls(text: str) -> str:
    """``text`` with every character that is not printable (line breaks, bidi controls) as ``\\x..``.

    For whole log messages, whose own quotes and non-ASCII letters stay as
    they are; values inside them went through :func:`escape_log_item`.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else escape_log_item(char) for char in text)
