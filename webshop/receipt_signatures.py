"""Signed consent receipts: the stored receipt document as an Ed25519 compact JWS, the keys as a JWK Set.

A receipt's signature is made over the very bytes served at
``/receipt/<id>.json``, so whoever holds the token (``/receipt/<id>.jwt``)
and the public keys (``/.well-known/jwks.json``) can check it offline
with any JOSE library. Each key's ``kid`` is its RFC 7638 thumbprint, so a
token names the key that made it and a verifier needs nothing else.

The private key lives in ``RECEIPT_SIGNING_KEY_FILE`` (default
``instance/receipt-signing-key.pem``, mode 0600), generated on first start
when missing. Keys used before are listed in ``RECEIPT_RETIRED_KEY_FILES``
(PEM, private or public): they sign nothing but stay published, so every
token made with them still verifies.
"""

import base64
import hashlib
import json
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .config import ConfigError
from .private_files import claim_private_file

ALGORITHM = "EdDSA"
KEY_FILE = "receipt-signing-key.pem"
EXTENSION = "receipt_signer"


class ReceiptVerificationError(jwt.InvalidTokenError):
    """A token that is not a receipt signed by one of the published keys."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def thumbprint(key: Ed25519PublicKey) -> str:
    """The RFC 7638 JWK thumbprint of ``key``: SHA-256 of its required members, sorted, no spaces."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw_public(key))}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    return _b64url(hashlib.sha256(canonical).digest())


def public_jwk(key: Ed25519PublicKey) -> dict:
    """``key`` as a JWK for verifying receipts."""
    return {
        "kid": thumbprint(key),
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64url(raw_public(key)),
        "use": "sig",
        "alg": ALGORITHM,
    }


class ReceiptSigner:
    """Signs receipt documents with the current key; publishes it and the retired ones."""

    def __init__(self, private_key: Ed25519PrivateKey, retired_public_keys=()):
        self.private_key = private_key
        self.kid = thumbprint(private_key.public_key())
        keys = [private_key.public_key(), *retired_public_keys]
        by_kid = {thumbprint(key): key for key in keys}  # a retired key named twice is published once
        self.public_keys = list(by_kid.values())

    def sign(self, document: bytes) -> str:
        """``document`` as a compact JWS, its header naming the key."""
        return jwt.api_jws.encode(
            document, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid, "typ": "JWT"}
        )

    def jwks(self) -> dict:
        """The JWK Set: the current public key first, then the retired ones."""
        return {"keys": [public_jwk(key) for key in self.public_keys]}


def verify(token: str | bytes, jwks: dict) -> bytes:
    """The document signed in ``token`` by the key of ``jwks`` its header names.

    Raises :class:`jwt.InvalidTokenError` (or its subclass
    :class:`ReceiptVerificationError`) when the token is malformed, names
    no key of the set, uses another algorithm, or its signature does not
    match the header and payload.
    """
    header = jwt.get_unverified_header(token)
    if header.get("alg") != ALGORITHM:
        raise ReceiptVerificationError(f"a receipt is signed with {ALGORITHM}, not {header.get('alg')!r}")
    kid = header.get("kid")
    matches = [key for key in jwks.get("keys", []) if isinstance(key, dict) and key.get("kid") == kid]
    if len(matches) != 1:
        raise ReceiptVerificationError("the token names no published key")
    key = jwt.PyJWK(matches[0], algorithm=ALGORITHM)
    return jwt.api_jws.decode(token, key, algorithms=[ALGORITHM])


# --- Keys on disk -------------------------------------------------------------


def new_key_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def read_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file ``path``; a clear :class:`ConfigError` otherwise."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as error:
        raise ConfigError(f"cannot read the receipt signing key {path}: {error.strerror}") from None
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(
            f"{path} does not hold an unencrypted Ed25519 private key in PEM form; "
            "restore it from a backup, or move it aside to generate a new key (receipts it signed "
            "verify again once it is listed in RECEIPT_RETIRED_KEY_FILES)"
        )
    return key


def read_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key of the PEM file ``path``, which may hold the private key or the public one."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read the retired receipt key {path}: {error.strerror}") from None
    for load in (
        lambda: serialization.load_pem_private_key(data, password=None).public_key(),
        lambda: serialization.load_pem_public_key(data),
    ):
        try:
            key = load()
        except (ValueError, TypeError):
            continue
        if isinstance(key, Ed25519PublicKey):
            return key
    raise ConfigError(f"{path} (in RECEIPT_RETIRED_KEY_FILES) does not hold an Ed25519 key in PEM form")


def key_path(app) -> Path:
    """The file of the current signing key: ``RECEIPT_SIGNING_KEY_FILE``, or the one generated into ``instance/``."""
    configured = app.config.get("RECEIPT_SIGNING_KEY_FILE")
    return Path(configured) if configured else Path(app.instance_path) / KEY_FILE


def load_signer(app) -> ReceiptSigner:
    """Read (or on first start generate) the signing key and the retired ones; keep the signer in ``app``."""
    path = key_path(app)
    if not path.exists():
        try:
            claim_private_file(path, new_key_pem())
        except OSError as error:
            raise ConfigError(f"cannot create the receipt signing key {path}: {error.strerror}") from None
    retired = app.config.get("RECEIPT_RETIRED_KEY_FILES") or []
    if isinstance(retired, str) or not all(isinstance(name, str) and name for name in retired):
        raise ConfigError(
            "RECEIPT_RETIRED_KEY_FILES must be a list of PEM file paths, e.g. "
            "FLASK_RECEIPT_RETIRED_KEY_FILES='[\"/etc/webshop/receipt-key-2025.pem\"]'"
        )
    signer = ReceiptSigner(read_private_key(path), [read_public_key(Path(name)) for name in retired])
    app.extensions[EXTENSION] = signer
    return signer


def signer_of(app) -> ReceiptSigner:
    return app.extensions[EXTENSION]
