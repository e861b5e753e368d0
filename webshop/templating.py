"""The template environment: the filters of ``webshop/text.py``, and templates compiled once per process.

Jinja compiles a template the first time an environment loads it, and every
app has its own environment. A process that builds many apps (the test
suite, a CLI command opening a second one) would compile every template
again for each. ``COMPILED`` keeps the compiled code for the process: an
environment loading a template another app already compiled reads that code,
and Jinja compiles afresh whenever the source differs from the one the code
was made from (the bucket's checksum), so an edited template is never served
stale.
"""

import threading

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket

from . import text


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


def init_app(app):
    app.jinja_env.bytecode_cache = COMPILED
    app.jinja_env.filters["plural"] = text.plural
    app.jinja_env.filters["units_together"] = text.units_together
    app.jinja_env.filters["utc_datetime"] = text.utc_datetime
