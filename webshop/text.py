"""Words for numbers and times: "1 record" and "2 records", "2 m" that never breaks, waits, times for HTML."""

import re

from markupsafe import Markup, escape

# A number followed by a unit, as in product names: "Cable 2 m", "65 W", "10 000 mAh".
NUMBER_AND_UNIT = re.compile(r"(\d) (m|cm|mm|W|V|mAh|Wh|GB|TB|MB|Hz|kHz|in|h)\b")


def plural(count: int, word: str, words: str | None = None) -> str:
    """``count`` with ``word`` (singular) or ``words`` (default: ``word`` + "s")."""
    return f"{count} {word if count == 1 else (words or word + 's')}"


def wait_text(seconds: int) -> str:
    """How long to wait, in words: seconds up to 89, then whole minutes rounded up."""
    if seconds < 90:
        return plural(seconds, "second")
    return plural(-(-seconds // 60), "minute")


def units_together(text: str) -> Markup:
    """``text``, escaped, with a no-break space between each number and its unit."""
    return Markup(NUMBER_AND_UNIT.sub("\\1&nbsp;\\2", str(escape(text))))


def utc_datetime(when) -> str:
    """A stored (naive, UTC) time as HTML's ``datetime`` attribute wants it: whole seconds and a Z."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
