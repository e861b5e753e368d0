"""Outgoing mail: a Maildir outbox in ``instance/outbox`` unless ``MAIL_SERVER`` is set.

With ``MAIL_SERVER`` configured, messages go out through SMTP (``MAIL_PORT``,
``MAIL_USE_TLS`` for STARTTLS, ``MAIL_USE_SSL`` for implicit TLS,
``MAIL_USERNAME``/``MAIL_PASSWORD``, ``MAIL_TIMEOUT``). A message the SMTP
server refuses or cannot take is kept in the outbox instead, so nothing is
lost and staff can see it. Without ``MAIL_SERVER`` every message is written
to the outbox, where staff read it.
"""

import logging
import mailbox
import os
import re
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parsedate_to_datetime
from pathlib import Path

from flask import current_app, url_for

from .private_files import FILE_MODE, private_dir

log = logging.getLogger(__name__)

OUTBOX_DIR = "outbox"
MAILDIR_KEY = re.compile(r"^(\d+)\.M(\d+)")
# Maildir flag for a message kept because SMTP delivery failed.
FLAG_SMTP_FAILED = "F"


def store_address() -> Address:
    config = current_app.config
    return Address(display_name=config["STORE_NAME"], addr_spec=config["STORE_EMAIL"])


def external_url(endpoint: str, **values) -> str:
    """An absolute URL for links in mail.

    With ``SERVER_NAME`` configured the link uses it and
    ``PREFERRED_URL_SCHEME``, whatever Host header the request carried;
    otherwise it uses the request's host, which Flask's ``TRUSTED_HOSTS``
    limits when set.
    """
    config = current_app.config
    if config.get("SERVER_NAME"):
        path = url_for(endpoint, **values)
        return f"{config['PREFERRED_URL_SCHEME']}://{config['SERVER_NAME']}{path}"
    return url_for(endpoint, _external=True, **values)


def build_message(
    to: str | Address,
    subject: str,
    text: str,
    *,
    reply_to: str | Address | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A plain-text message from the store with Date and Message-ID set."""
    sender = store_address()
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=sender.domain or None)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    return message


def send(message: EmailMessage) -> None:
    """Deliver ``message`` through SMTP when configured, else into the outbox."""
    if not current_app.config.get("MAIL_SERVER"):
        keep_in_outbox(message)
        return
    try:
        send_smtp(message)
    except (OSError, smtplib.SMTPException) as error:
        log.error("SMTP delivery failed (%s); the message is kept in the outbox", type(error).__name__)
        keep_in_outbox(message, flags=FLAG_SMTP_FAILED)


def send_smtp(message: EmailMessage) -> None:
    config = current_app.config
    host, port, timeout = config["MAIL_SERVER"], int(config["MAIL_PORT"]), float(config["MAIL_TIMEOUT"])
    context = ssl.create_default_context()
    if config.get("MAIL_USE_SSL"):
        connection = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        connection = smtplib.SMTP(host, port, timeout=timeout)
    with connection as smtp:
        if config.get("MAIL_USE_TLS") and not config.get("MAIL_USE_SSL"):
            smtp.starttls(context=context)
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        smtp.send_message(message)


def outbox_path() -> Path:
    return Path(current_app.instance_path) / OUTBOX_DIR


class PrivateMaildir(mailbox.Maildir):
    """A Maildir whose message files are 0600 whatever the umask (they hold personal data)."""

    def _create_tmp(self):
        handle = super()._create_tmp()
        os.fchmod(handle.fileno(), FILE_MODE)  # before anything is written into it
        return handle


def open_outbox() -> mailbox.Maildir:
    """The outbox Maildir, created if missing, its folders 0700.

    The folders are made with ``exist_ok`` rather than by ``Maildir(create=True)``,
    which fails when two workers create the outbox at the same moment.
    """
    path = private_dir(outbox_path())
    for folder in ("tmp", "new", "cur"):
        private_dir(path / folder)
    return PrivateMaildir(path, create=False)


def keep_in_outbox(message: EmailMessage, flags: str = "") -> str:
    stored = mailbox.MaildirMessage(message.as_bytes())
    stored.set_flags(flags)
    return open_outbox().add(stored)


@dataclass(frozen=True)
class OutboxEntry:
    key: str
    date: datetime | None
    sender: str
    to: str
    subject: str
    smtp_failed: bool
    message: EmailMessage

    @property
    def text(self) -> str:
        """The plain-text body."""
        return self.message.get_body(preferencelist=("plain",)).get_content()


def outbox_messages() -> list[OutboxEntry]:
    """Every message in the outbox, newest first."""
    entries = []
    for key, stored in open_outbox().items():
        message = message_from_bytes(stored.as_bytes(), policy=policy.default)
        try:
            date = parsedate_to_datetime(message["Date"]) if message["Date"] else None
        except (TypeError, ValueError):
            date = None
        entries.append(
            OutboxEntry(
                key=key,
                date=date,
                sender=str(message["From"] or ""),
                to=str(message["To"] or ""),
                subject=str(message["Subject"] or ""),
                smtp_failed=FLAG_SMTP_FAILED in stored.get_flags(),
                message=message,
            )
        )
    entries.sort(key=lambda entry: stored_order(entry.key), reverse=True)
    return entries


def stored_order(key: str) -> tuple[int, int]:
    """When a message was stored, from its Maildir name (seconds, then microseconds)."""
    found = MAILDIR_KEY.match(key)
    return (int(found[1]), int(found[2])) if found else (0, 0)
