"""Logging, configured once with dictConfig: text or JSON lines.

Every line passes :class:`RedactFilter` on its way out, whichever part of
the shop (or a library) wrote it, the 503 and error paths included.
"""

import json
import logging
import logging.config
from collections.abc import Mapping
from datetime import UTC, datetime

from .visits.redact import escape_controls, escape_log_item, redact_text

# The attributes every LogRecord has; anything else was passed as ``extra``.
RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def clean_value(value):
    """A message argument redacted and escaped; numbers stay numbers (for ``%d``)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = value if isinstance(value, str) else str(value)
    return escape_log_item(redact_text(text)) if text else text


class RedactFilter(logging.Filter):
    """Redacts tokens, order numbers and email addresses in every line and escapes its controls.

    Arguments are escaped the way Apache escapes a request line (``\\n``,
    ``\\"``, ``\\xhh``) and the message as a whole has no character left
    that could end the line, so no input can forge a second line. The
    record is changed in place, so handlers further up (and pytest's
    capture) see the same redacted line.
    """

    def filter(self, record):
        if getattr(record, "redacted", False):
            return True
        args = record.args
        if isinstance(args, Mapping):
            args = {key: clean_value(value) for key, value in args.items()}
        elif args:
            args = tuple(clean_value(value) for value in args)
        try:
            message = str(record.msg) % args if args else str(record.msg)
        except (TypeError, ValueError, KeyError):  # a malformed call: keep its parts, redacted
            message = f"{record.msg} {args!r}"
        record.msg, record.args = escape_controls(redact_text(message)), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        for name, value in vars(record).items():
            if name not in RECORD_ATTRIBUTES and isinstance(value, str):
                setattr(record, name, redact_text(value))
        record.redacted = True
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any extras."""

    RESERVED = RECORD_ATTRIBUTES | {"redacted"}

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in self.RESERVED})
        if record.exc_text or record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def init_app(app):
    fmt = app.config["LOG_FORMAT"]
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
                "json": {"()": JsonFormatter},
            },
            "filters": {"redact": {"()": RedactFilter}},
            "handlers": {
                "stderr": {
                    "class": "logging.StreamHandler",
                    "formatter": "json" if fmt == "json" else "text",
                    "filters": ["redact"],
                }
            },
            "loggers": {
                "webshop": {"level": app.config["LOG_LEVEL"], "handlers": ["stderr"], "propagate": True},
                # Says when the shared rate-limit storage is out of reach and limits fall back to memory.
                "flask-limiter": {"level": "WARNING", "handlers": ["stderr"], "propagate": True},
            },
        }
    )
