"""What views in every layer do to a response: keep it out of caches, send the visitor back safely."""

from urllib.parse import urlsplit

from flask import request, url_for


def no_store(response):
    """Mark a page personal: never stored by a cache, varying with the cookie."""
    response.headers["Cache-Control"] = "private, no-store"
    response.vary.add("Cookie")
    return response


def safe_next(target: str | None, fallback: str = "shop.home", under: str = "/") -> str:
    """``target`` if it is a path on this site starting with ``under`` (itself a path), else the URL of
    endpoint ``fallback``.

    Never another host: no scheme, no ``//`` host, no backslash (which
    browsers read as a slash) and no control character.
    """
    if (
        not target
        or not target.startswith(under)
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 for c in target)
    ):
        return url_for(fallback)
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for(fallback)
    return target


def current_path() -> str:
    """This page's path with its query, to come back to; a query that is not UTF-8 is left off."""
    try:
        return request.full_path.rstrip("?")
    except UnicodeDecodeError:
        return request.path
