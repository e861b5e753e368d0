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
from email import _header_value_parser as header_parser
from email import errors, message_from_bytes, policy
from email.header import Header
from email.headerregistry import Address, HeaderRegistry, UniqueAddressHeader, UnstructuredHeader
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from email.utils import format_datetime, make_msgid, parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

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

    With ``PUBLIC_URL`` configured every link starts with it, whatever Host
    the request carried (and outside a request too); else with
    ``SERVER_NAME`` and ``PREFERRED_URL_SCHEME``. Without either it uses
    the request's host, which is one of ``TRUSTED_HOSTS``: any other Host
    was refused before the view ran.
    """
    app = current_app
    config = app.config
    base = config.get("PUBLIC_URL")
    if not base and config.get("SERVER_NAME"):
        base = f"{config['PREFERRED_URL_SCHEME']}://{config['SERVER_NAME']}"
    if not base:
        return url_for(endpoint, _external=True, **values)
    public = urlsplit(base)
    app.inject_url_defaults(endpoint, values)
    adapter = app.url_map.bind(public.netloc, url_scheme=public.scheme)
    return adapter.build(endpoint, values, force_external=True)


# What the library may write as is: printable ASCII without the "=?" that
# starts an RFC 2047 encoded word. Anything else is written encoded.
PLAIN_HEADER_TEXT = re.compile(r"[\x20-\x7e]*")


def plain_header_text(text: str) -> bool:
    return PLAIN_HEADER_TEXT.fullmatch(text) is not None and "=?" not in text


def encoded_words(text: str, name: str, *, maxlinelen: int | None = None, linesep: str = "\n") -> str:
    """``text`` as RFC 2047 encoded words, which a reader decodes back to exactly ``text``."""
    return Header(text, "utf-8", header_name=name).encode(linesep=linesep, maxlinelen=maxlinelen)


class LiteralTextHeader(UnstructuredHeader):
    """An unstructured header (Subject, List-Unsubscribe, …) whose value is literal text.

    The standard header class reads a value for RFC 2047 encoded words and
    decodes them, so typed text such as ``=?utf-8?q?Hi=0D=0AContent-Type:…?=``
    would become line breaks, headers and a body. Here the value is never
    decoded, and text that is not plain ASCII, or that contains ``=?``, is
    written as encoded words of its own, which decode back to this text only.
    """

    @classmethod
    def parse(cls, value, kwds):
        # The parse tree is only used to fold plain text; other text is folded by fold() below.
        kwds["parse_tree"] = header_parser.get_unstructured(value if plain_header_text(value) else "")
        kwds["decoded"] = value

    def fold(self, *, policy):
        if plain_header_text(str(self)):
            return super().fold(policy=policy)
        return f"{self.name}: {encoded_words(str(self), self.name, linesep=policy.linesep)}{policy.linesep}"


class UniqueLiteralTextHeader(LiteralTextHeader):
    max_count = 1


class LiteralAddressHeader(UniqueAddressHeader):
    """From, To, Reply-To: a display name is literal text, never decoded.

    Set these from :class:`~email.headerregistry.Address` objects: a display
    name that is not plain ASCII or contains ``=?`` is written as one encoded
    word (one, because readers put a space between adjacent encoded words in
    a display name).
    """

    def fold(self, *, policy):
        if all(plain_header_text(address.display_name) for address in self.addresses):
            return super().fold(policy=policy)
        parts = [
            f"{encoded_words(address.display_name, self.name, maxlinelen=0)} <{address.addr_spec}>"
            if address.display_name
            else address.addr_spec
            for address in self.addresses
        ]
        return f"{self.name}: {', '.join(parts)}{policy.linesep}"


class HeaderClasses(HeaderRegistry):
    """A header registry that makes each header's class once.

    The standard registry makes a new class with ``type()`` every time a
    header is set or read, which was the costliest step of building and
    reading back an order's confirmation. The classes it makes are the same.
    """

    def __init__(self, *args, **kwargs):
        self.made: dict[str, type] = {}
        super().__init__(*args, **kwargs)

    def map_to_type(self, name, cls):
        self.made.clear()
        super().map_to_type(name, cls)

    def __getitem__(self, name):
        key = name.lower()
        made = self.made.get(key)
        if made is None:
            made = self.made[key] = super().__getitem__(name)
        return made


def outgoing_headers() -> HeaderRegistry:
    registry = HeaderClasses(default_class=LiteralTextHeader)
    registry.map_to_type("subject", UniqueLiteralTextHeader)
    for name in ("from", "to", "reply-to"):
        registry.map_to_type(name, LiteralAddressHeader)
    return registry


# Outgoing mail: header values are literal text, and any defect is an error.
OUTGOING = policy.default.clone(header_factory=outgoing_headers(), raise_on_defect=True)
# How a receiving mail program reads the message, strictly: used to check each message before it goes.
STRICT_READER = policy.default.clone(header_factory=HeaderClasses(), raise_on_defect=True)


class MailBuildError(ValueError):
    """A message could not be built so that it reads back as what was meant."""


def carries_address(address: str) -> bool:
    """Whether the mail library writes ``address`` as exactly this address.

    An address such as ``=?utf-8?q?=0d=0a?=@example.org`` is valid by the
    address syntax, but a mail reader decodes the encoded word in it into
    something else (here a line break).
    """
    if "=?" in address:
        return False
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, TypeError, errors.MessageError):
        return False
    return parsed.addr_spec == address


def as_address(value: str | Address) -> Address:
    """An :class:`Address` for ``value``, refusing an address the library would change."""
    if isinstance(value, Address):
        address = value
    elif not carries_address(value):
        raise MailBuildError("the mail library cannot carry this address unchanged")
    else:
        address = Address(addr_spec=value)
    if not carries_address(address.addr_spec):
        raise MailBuildError("the mail library cannot carry this address unchanged")
    return address


@dataclass(frozen=True)
class CheckedMessage:
    """A built message and its bytes as they were read back: these bytes are what is sent or kept."""

    message: EmailMessage
    raw: bytes


def build_message(
    to: str | Address,
    subject: str,
    text: str,
    *,
    reply_to: str | Address | None = None,
    headers: dict[str, str] | None = None,
) -> CheckedMessage:
    """A plain-text message from the store with Date and Message-ID set.

    Every header value is taken as literal text (see :class:`LiteralTextHeader`),
    and the finished message is read back as a receiving mail program would:
    if it does not carry exactly these headers with exactly these values,
    :class:`MailBuildError` is raised and nothing is sent. The message is
    flattened once; the bytes read back are the bytes sent.
    """
    sender = store_address()
    message = EmailMessage(policy=OUTGOING)
    try:
        message["From"] = sender
        message["To"] = as_address(to)
        if reply_to:
            message["Reply-To"] = as_address(reply_to)
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain=sender.domain or None)
        for name, value in (headers or {}).items():
            if name.lower() in HIDDEN_RECIPIENT_HEADERS:
                raise MailBuildError(f"{name} would travel in the message's bytes")
            message[name] = value
        message.set_content(text)
    except (TypeError, errors.MessageError) as error:
        raise MailBuildError(str(error)) from error
    return CheckedMessage(message, check_reads_back(message))


# Headers that name recipients the others must not see: never set, since the bytes sent are the bytes built.
HIDDEN_RECIPIENT_HEADERS = {"bcc", "resent-bcc"}


def check_reads_back(message: EmailMessage) -> bytes:
    """``message`` flattened, once; :class:`MailBuildError` unless it reads back with exactly its headers.

    A single-part message is read back by its headers alone: a reader finds
    the same headers in it either way, since its body (a text part) cannot
    hold a header. A multipart message is read back whole.
    """
    try:
        raw = message.as_bytes()
        reader = BytesParser if message.is_multipart() else BytesHeaderParser
        read = reader(policy=STRICT_READER).parsebytes(raw)
        # One pass over both: the names in the same order, and each header, every occurrence, reads back.
        same = read.keys() == message.keys() and all(
            header_reads_as(got, sent) for (_, got), (_, sent) in zip(read.items(), message.items(), strict=True)
        )
    except (ValueError, TypeError, errors.MessageError) as error:
        raise MailBuildError(f"the message does not read back: {error}") from error
    if not same:
        raise MailBuildError("the message does not read back with the headers it was given")
    return raw


def header_reads_as(read, sent) -> bool:
    if read.defects:
        return False
    # Whitespace around a value is not part of it for a reader, and carries nothing.
    if hasattr(sent, "addresses"):
        pairs = [(a.display_name.strip(), a.addr_spec) for a in sent.addresses]
        return [(a.display_name.strip(), a.addr_spec) for a in read.addresses] == pairs
    return str(read).strip() == str(sent).strip()


def send(message: CheckedMessage) -> bool:
    """Deliver ``message`` through SMTP when configured, else into the outbox.

    Returns whether it was delivered: False when SMTP failed and the
    message was kept in the outbox for staff instead.
    """
    if not current_app.config.get("MAIL_SERVER"):
        keep_in_outbox(message)
        return True
    try:
        send_smtp(message)
    except (OSError, smtplib.SMTPException) as error:
        log.error("SMTP delivery failed (%s); the message is kept in the outbox", type(error).__name__)
        keep_in_outbox(message, flags=FLAG_SMTP_FAILED)
        return False
    return True


def send_smtp(message: CheckedMessage) -> None:
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
        # The bytes end their lines with "\n", as the outbox keeps them; SMTP carries them with CRLF.
        wire = message.raw.replace(b"\n", b"\r\n")
        smtp.sendmail(envelope_sender(message.message), envelope_recipients(message.message), wire)


def envelope_sender(message: EmailMessage) -> str:
    return message["From"].addresses[0].addr_spec


def envelope_recipients(message: EmailMessage) -> list[str]:
    """The addresses in To and Cc (a built message has no Bcc: see :func:`build_message`)."""
    headers = message.get_all("To", []) + message.get_all("Cc", [])
    return [address.addr_spec for header in headers for address in header.addresses]


def outbox_path() -> Path:
    return Path(current_app.instance_path) / OUTBOX_DIR


class PrivateMaildir(mailbox.Maildir):
    """A Maildir whose message files are 0600 whatever the umask (they hold personal data)."""

    def _create_tmp(self):
        handle = super()._create_tmp()
        os.fchmod(handle.fileno(), FILE_MODE)  # before anything is written into it
        return handle


# The outbox folders this process has made or checked: each is made once per process, and again
# when a write finds it gone.
_outboxes_made: set[tuple[int, Path]] = set()


def open_outbox() -> mailbox.Maildir:
    """The outbox Maildir, created if missing, its folders 0700.

    The folders are made with ``exist_ok`` rather than by ``Maildir(create=True)``,
    which fails when two workers create the outbox at the same moment. A
    process makes and checks them once; :func:`keep_in_outbox` makes them
    again if they were removed since.
    """
    path = outbox_path()
    made = (os.getpid(), path)
    if made in _outboxes_made:
        try:
            return PrivateMaildir(path, create=False)
        except mailbox.NoSuchMailboxError:  # removed since this process made it
            _outboxes_made.discard(made)
    private_dir(path)
    for folder in ("tmp", "new", "cur"):
        private_dir(path / folder)
    _outboxes_made.add(made)
    return PrivateMaildir(path, create=False)


def keep_in_outbox(message: CheckedMessage, flags: str = "") -> str:
    """Write the message's bytes into the outbox, with Maildir ``flags`` if any."""
    stored = message.raw
    if flags:
        stored = mailbox.MaildirMessage(message.raw)
        stored.set_flags(flags)
    try:
        return open_outbox().add(stored)
    except FileNotFoundError:  # one of its folders was removed since this process made them
        _outboxes_made.discard((os.getpid(), outbox_path()))
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
