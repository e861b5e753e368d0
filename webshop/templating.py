"""The template environment: the filters of ``webshop/text.py``, templates compiled once per process,
and the links of a page built once per worker.

Jinja compiles a template the first time an environment loads it, and every
app has its own environment. A process that builds many apps (the test
suite, a CLI command opening a second one) would compile every template
again for each. ``COMPILED`` keeps the compiled code for the process: an
environment loading a template another app already compiled reads that code,
and Jinja compiles afresh whenever the source differs from the one the code
was made from (the bucket's checksum), so an edited template is never served
stale.

Every page links the same two dozen addresses (the header, the nav, the
footer), and werkzeug builds each one anew on every request: templates use
:func:`link_builder`'s ``url_for``, which keeps each address it built for the rest of the
worker's life. An address is the same for every request with the same path
prefix (``SCRIPT_NAME``, as the WSGI server sets it; the shop never reads
``X-Forwarded-Prefix``), so the prefix is part of what it is kept under; the URL map never
changes once the app serves. Only links to what everyone sees are kept: no
values, or only a static file's name, an anchor and a catalogue slug. A link
carrying anything of a person's (a token, a receipt or visitor id, a page
number from the query) is built each time, so nothing of theirs outlives the
request in the worker's memory; so are absolute addresses (for mail) and the
links of pages rendered outside a request.
"""

import threading

from flask import has_request_context, request, url_for
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket

from . import text

LINKS_KEPT = 4096  # addresses a worker keeps; beyond it (a very large catalogue) the rest are built each time
PUBLIC_VALUES = frozenset({"filename", "_anchor", "slug"})  # what a kept link may carry


class ProcessBytecodeCache(BytecodeCache):
    """Compiled templates held in memory, shared by every app of this process."""

    def __init__(self):
        self._code: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)  # checks Jinja's version and the source checksum

    def dump_bytecode(self, bucket: Bucket) -> None:
        with self._lock:
            self._code[bucket.key] = bucket.bytecode_to_string()

    def clear(self) -> None:
        with self._lock:
            self._code.clear()


COMPILED = ProcessBytecodeCache()


def link_builder(links: dict):
    """The templates' ``url_for``: each address built once per worker and path prefix, kept in ``links``."""

    def linked_url(endpoint: str, **values) -> str:
        if not has_request_context() or endpoint[:1] == "." or not PUBLIC_VALUES.issuperset(values):
            return url_for(endpoint, **values)
        key = (request.root_path, endpoint, *sorted(values.items())) if values else (request.root_path, endpoint)
        try:
            found = links.get(key)
        except TypeError:  # a value that cannot be a key: built each time
            return url_for(endpoint, **values)
        if found is None:
            found = url_for(endpoint, **values)
            if len(links) < LINKS_KEPT:
                links[key] = found
        return found

    return linked_url


def init_app(app):
    app.extensions["webshop.links"] = links = {}
    app.jinja_env.globals["url_for"] = link_builder(links)
    app.jinja_env.bytecode_cache = COMPILED
    app.jinja_env.filters["plural"] = text.plural
    app.jinja_env.filters["units_together"] = text.units_together
    app.jinja_env.filters["utc_datetime"] = text.utc_datetime
