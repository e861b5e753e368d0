"""Helpers shared by the tests: ports, CSRF tokens, posting forms like a browser."""

import re
import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


def submit(client, page_url: str, data: dict, action: str | None = None, **kwargs):
    """Open ``page_url``, take its CSRF token and post ``data`` like a browser would."""
    page = client.get(page_url, **kwargs)
    token = csrf_token_from(page.get_data(as_text=True))
    return client.post(action or page_url, data={"csrf_token": token, **data}, **kwargs)
