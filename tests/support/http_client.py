"""A browser's cookie jar and the requests it makes, over real HTTP, for tests against a running server."""

import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

from tests.support.pages import hidden_fields


class Browser:
    """A browser's cookie jar and the requests it makes (redirects followed)."""

    def __init__(self, base: str, jar: CookieJar | None = None, host: str | None = None):
        self.base = base
        self.jar = jar or CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        # The name asked for, as a browser sends it, when ``base`` is the address of a proxy serving it.
        self.headers = {"Host": host} if host else {}

    def get(self, path: str) -> tuple[str, str]:
        return self.open(urllib.request.Request(self.base + path, headers=self.headers))

    def post(self, path: str, data: dict) -> tuple[str, str]:
        body = urllib.parse.urlencode(data, doseq=True).encode()
        return self.open(urllib.request.Request(self.base + path, data=body, headers=self.headers))

    def open(self, request: urllib.request.Request) -> tuple[str, str]:
        with self.opener.open(request, timeout=30) as response:
            return response.geturl(), response.read().decode()

    def submit(self, page: str, data: dict, action: str | None = None) -> tuple[str, str]:
        _url, html = self.get(page)
        return self.post(action or page, {**hidden_fields(html), **data})

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)
