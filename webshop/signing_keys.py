"""Every host sharing one database signs with the same keys, or refuses to start.

A key generated into ``instance/`` on first start (``SECRET_KEY``, the
receipt signing key) belongs to that host alone. Two hosts on one database
with keys of their own would each refuse what the other signed: carts,
consent cookies, CSRF tokens, "your data" links, staff sessions, receipts.
So the database records a fingerprint of each key the shop signs with
(``signing_key_check``), and every start compares this host's keys with it:

- nothing recorded yet: this host's keys are recorded (the first to start sets them);
- the same key: nothing to do;
- the recorded key is one of this host's old ones (``SECRET_KEY_FALLBACKS``,
  ``RECEIPT_RETIRED_KEY_FILES``): this host is the first of a rotation, and
  the record moves to its new key, so a host still on the old key refuses;
- any other key: :class:`ConfigError`, saying which key and how to fix it.

A fingerprint reveals nothing of the key: an HMAC-SHA256 of a fixed label
keyed by ``SECRET_KEY``, and the receipt key's RFC 7638 thumbprint (the
``kid`` already published at ``/.well-known/jwks.json``). Before ``flask
init-db`` there is no table and nothing to compare; a database out of reach
at start is compared at the next start, and the log says so.
"""

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import exc, inspect, select, update

from .config import SECRET_KEY_FILE, ConfigError
from .db import db, utcnow
from .models import SigningKeyCheck
from .receipt_signatures import key_path, signer_of, thumbprint

log = logging.getLogger(__name__)

# What SECRET_KEY's fingerprint is an HMAC of: any fixed text would do, as long as it never changes.
LABEL = b"webshop signing-key check: the key every host shares"
SEE = 'See docs/operations.md, "Several hosts".'

TABLE = SigningKeyCheck.__table__


def secret_key_fingerprint(key: str | bytes) -> str:
    """HMAC-SHA256 of a fixed label keyed by ``key``: the same for the same key, and no way back to it."""
    raw = key.encode() if isinstance(key, str) else key
    return hmac.new(raw, LABEL, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class HostKey:
    """One key as this host holds it: its fingerprint, its old keys' fingerprints, what to say if it differs."""

    name: str
    current: str
    previous: frozenset[str]
    refusal: Callable[[], str]


def secret_key_of(app) -> HostKey:
    key = app.config["SECRET_KEY"]
    generated = Path(app.instance_path) / SECRET_KEY_FILE

    def refusal() -> str:
        origin = "This host's key comes from its configuration."
        if generated.exists() and generated.read_text().strip() == key:
            origin = f"This host's key was generated into {generated} on its first start, and no other host has it."
        return (
            "SECRET_KEY is not the key this shop's database records: another host sharing this database signs "
            "carts, consent cookies, CSRF tokens, your-data links and staff sessions with a different key, so "
            f"what one host signs the other refuses. {origin} Set the same key on every host (FLASK_SECRET_KEY, "
            "or SECRET_KEY in instance/config.py). To rotate it, give every host the new key and the old one in "
            f"SECRET_KEY_FALLBACKS. {SEE}"
        )

    return HostKey(
        SigningKeyCheck.SECRET_KEY,
        secret_key_fingerprint(key),
        frozenset(secret_key_fingerprint(old) for old in app.config["SECRET_KEY_FALLBACKS"]),
        refusal,
    )


def receipt_key_of(app) -> HostKey:
    signer = signer_of(app)
    path = key_path(app)

    def refusal() -> str:
        origin = (
            ""
            if app.config.get("RECEIPT_SIGNING_KEY_FILE")
            else ("It was generated on this host's first start, as RECEIPT_SIGNING_KEY_FILE is not set. ")
        )
        return (
            f"The receipt signing key {path} is not the key this shop's database records: another host sharing "
            "this database signs consent receipts with a different key, so a receipt signed on one host does not "
            f"verify against the keys the other publishes. {origin}Copy one key file to every host and point "
            "RECEIPT_SIGNING_KEY_FILE at it. To rotate it, give every host the new key file and the old one in "
            f"RECEIPT_RETIRED_KEY_FILES. {SEE}"
        )

    return HostKey(
        SigningKeyCheck.RECEIPT_KEY,
        signer.kid,
        frozenset(thumbprint(key) for key in signer.public_keys[1:]),
        refusal,
    )


def reconcile(connection, key: HostKey) -> None:
    """Record ``key``, accept it, move the record to it (a rotation), or refuse it.

    Hosts and workers starting at once race to record their keys: an insert
    that finds a row already there is undone, and the row it found is read
    and compared like any other.
    """
    for _attempt in range(3):
        recorded = connection.execute(select(TABLE.c.fingerprint).where(TABLE.c.name == key.name)).scalar()
        if recorded == key.current:
            return
        if recorded is None:
            try:
                connection.execute(TABLE.insert().values(name=key.name, fingerprint=key.current, recorded_at=utcnow()))
                connection.commit()
            except exc.IntegrityError:
                connection.rollback()  # another host or worker recorded its key first
            else:
                log.info("signing keys: this host's %s is now the one the shop signs with", key.name)
            continue
        if recorded not in key.previous:
            raise ConfigError(key.refusal())
        connection.execute(
            update(TABLE)
            .where(TABLE.c.name == key.name, TABLE.c.fingerprint == recorded)
            .values(fingerprint=key.current, recorded_at=utcnow())
        )
        connection.commit()
        log.warning("signing keys: %s rotated; a host still signing with the old key now refuses to start", key.name)
    raise ConfigError(f"the record of {key.name} kept changing while this host started; start it again. {SEE}")


def sqlite_file_missing(engine) -> bool:
    """Whether the database is a SQLite file that does not exist yet (so it has no tables to compare)."""
    if engine.dialect.name != "sqlite":
        return False
    name = engine.url.database
    return bool(name) and name != ":memory:" and not Path(name).exists()


def check(app) -> None:
    """Compare this host's keys with those the database records; raise :class:`ConfigError` if one differs."""
    keys = [secret_key_of(app), receipt_key_of(app)]
    with app.app_context():
        engine = db.engine
        if sqlite_file_missing(engine):
            return
        try:
            with engine.connect() as connection:
                if not inspect(connection).has_table(TABLE.name):
                    return  # before `flask init-db`: nothing is recorded yet
                for key in keys:
                    reconcile(connection, key)
        except (exc.OperationalError, exc.InterfaceError) as error:
            original = getattr(error, "orig", None) or error
            log.warning(
                "signing keys not compared with the database's record, which is out of reach (%s); "
                "they are compared at the next start",
                type(original).__name__,
            )
        finally:
            engine.dispose()  # no connection opened here outlives the start (or crosses a fork)


def init_app(app):
    check(app)
