"""Signed receipts: every token verifies against the published keys, and nothing else does.

A verifier holds only the token (``/receipt/<id>.jwt``) and the JWK Set
(``/.well-known/jwks.json``); these tests verify as such a person would,
with our ``verify`` and with PyJWT's own key-set reader.
"""

import json
import stat
import threading

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from tests.support.apps import TEST_KEY
from tests.support.forms import FORMS, send, submissions
from webshop import create_app
from webshop.config import ConfigError
from webshop.receipt_signatures import KEY_FILE, ReceiptSigner, load_signer, thumbprint, verify

CONTACT = next(case for case in FORMS if case.kind == "contact")
# RFC 8037 appendix A.1's key and A.3's thumbprint of it.
RFC8037_PRIVATE = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_KID = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def receipt_token(client, app) -> tuple[str, bytes]:
    send(client, app, CONTACT)
    [submission] = submissions(app, "contact")
    token = client.get(f"/receipt/{submission.receipt_id}.jwt")
    assert token.status_code == 200 and token.mimetype == "application/jwt"
    document = client.get(f"/receipt/{submission.receipt_id}.json").get_data()
    return token.get_data(as_text=True), document


def served_keys(client) -> dict:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    return json.loads(response.get_data())


def independent_check(token: str, jwks: dict) -> bytes:
    """What someone with PyJWT alone does: the key named by the token's kid, from the published set."""
    keys = jwt.PyJWKSet.from_dict(jwks)
    key = keys[jwt.get_unverified_header(token)["kid"]]
    return jwt.api_jws.decode(token, key, algorithms=["EdDSA"])


def app_on(database, instance, **config):
    return create_app(
        {"TESTING": True, "SECRET_KEY": TEST_KEY, "SQLALCHEMY_DATABASE_URI": database, "RDNS_ENABLED": False, **config},
        instance_path=str(instance),
    )


def test_the_token_verifies_against_the_served_keys_and_carries_the_json_bytes(client, app):
    token, document = receipt_token(client, app)
    jwks = served_keys(client)
    assert verify(token, jwks) == document
    assert independent_check(token, jwks) == document
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["typ"] == "JWT"
    [key] = jwks["keys"]
    assert header["kid"] == key["kid"]
    assert {k: key[k] for k in ("kty", "crv", "use", "alg")} == {
        "kty": "OKP",
        "crv": "Ed25519",
        "use": "sig",
        "alg": "EdDSA",
    }
    assert "d" not in key  # the public half only


def test_the_key_set_is_public_and_cacheable(client, app):
    response = client.get("/.well-known/jwks.json")
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    assert "Set-Cookie" not in response.headers
    assert response.mimetype == "application/jwk-set+json"


@pytest.mark.parametrize("part", [0, 1, 2], ids=["header", "payload", "signature"])
def test_one_character_changed_anywhere_fails_verification(client, app, part):
    token, _ = receipt_token(client, app)
    jwks = served_keys(client)
    pieces = token.split(".")
    middle = len(pieces[part]) // 2  # a character whose every bit counts, unlike the last one
    original = pieces[part][middle]
    pieces[part] = pieces[part][:middle] + ("B" if original == "A" else "A") + pieces[part][middle + 1 :]
    tampered = ".".join(pieces)
    assert tampered != token
    with pytest.raises(jwt.InvalidTokenError):
        verify(tampered, jwks)
    with pytest.raises((jwt.InvalidTokenError, KeyError)):
        independent_check(tampered, jwks)


def test_a_token_made_with_another_key_fails(client, app):
    token, document = receipt_token(client, app)
    jwks = served_keys(client)
    stranger = ReceiptSigner(Ed25519PrivateKey.generate())
    with pytest.raises(jwt.InvalidTokenError):
        verify(stranger.sign(document), jwks)
    # Nor does it help to name the shop's key in the header.
    forged = jwt.api_jws.encode(
        document, stranger.private_key, algorithm="EdDSA", headers={"kid": jwks["keys"][0]["kid"], "typ": "JWT"}
    )
    with pytest.raises(jwt.InvalidSignatureError):
        verify(forged, jwks)
    with pytest.raises(jwt.InvalidSignatureError):
        independent_check(forged, jwks)


def test_the_kid_is_the_rfc_7638_thumbprint():
    key = Ed25519PrivateKey.from_private_bytes(jwt.utils.base64url_decode(RFC8037_PRIVATE))
    assert thumbprint(key.public_key()) == RFC8037_KID


def test_the_key_file_is_private_and_kept_across_restarts(client, app, database, instance_path):
    token, document = receipt_token(client, app)
    path = instance_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = path.read_bytes()
    restarted = app_on(database, instance_path).test_client()
    assert path.read_bytes() == before
    assert served_keys(restarted) == served_keys(client)
    assert verify(token, served_keys(restarted)) == document


def test_workers_starting_at_once_end_with_one_key(tmp_path):
    starters, barrier, found = 12, threading.Barrier(12), []

    def start():
        app = Flask("worker", instance_path=str(tmp_path))
        barrier.wait()
        found.append(load_signer(app).kid)

    threads = [threading.Thread(target=start) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == starters and len(set(found)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]  # no temporary file left behind


def test_after_rotation_old_tokens_still_verify_and_both_keys_are_published(
    client, app, database, instance_path, tmp_path
):
    old_token, document = receipt_token(client, app)
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    retired = tmp_path / "receipt-key-2026.pem"
    (instance_path / KEY_FILE).rename(retired)  # the operator's rotation: move the key aside, restart
    rotated = app_on(database, instance_path, RECEIPT_RETIRED_KEY_FILES=[str(retired)]).test_client()
    jwks = served_keys(rotated)
    kids = [key["kid"] for key in jwks["keys"]]
    assert len(kids) == 2 and kids[1] == old_kid and kids[0] != old_kid  # the new key first
    assert verify(old_token, jwks) == document
    [submission] = submissions(app, "contact")
    new_token = rotated.get(f"/receipt/{submission.receipt_id}.jwt").get_data(as_text=True)
    assert jwt.get_unverified_header(new_token)["kid"] == kids[0]
    assert verify(new_token, jwks) == document == independent_check(new_token, jwks)


def test_a_retired_key_may_be_given_as_its_public_half(tmp_path):
    key = Ed25519PrivateKey.generate()
    public = tmp_path / "old.pub.pem"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    app = Flask("worker", instance_path=str(tmp_path / "instance"))
    (tmp_path / "instance").mkdir()
    app.config["RECEIPT_RETIRED_KEY_FILES"] = [str(public)]
    signer = load_signer(app)
    old_token = ReceiptSigner(key).sign(b'{"a":1}')
    assert verify(old_token, signer.jwks()) == b'{"a":1}'


def test_a_corrupt_key_file_stops_the_start_with_a_message_naming_it(tmp_path, database):
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    path = instance / KEY_FILE
    secretish = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIBROKENBROKENBROKEN\n-----END PRIVATE KEY-----\n"
    path.write_text(secretish)
    with pytest.raises(ConfigError) as raised:
        app_on(database, instance)
    message = str(raised.value)
    assert str(path) in message and "Ed25519 private key" in message
    assert "BROKEN" not in message  # nothing of what the file holds
    assert raised.value.__cause__ is None and raised.value.__context__ is None  # nor a traceback of the parser


def test_a_missing_retired_key_file_stops_the_start_with_a_message_naming_it(tmp_path, database):
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    missing = tmp_path / "gone.pem"
    with pytest.raises(ConfigError, match=f"cannot read the retired receipt key {missing}"):
        app_on(database, instance, RECEIPT_RETIRED_KEY_FILES=[str(missing)])
    with pytest.raises(ConfigError, match="must be a list of PEM file paths"):
        app_on(database, instance, RECEIPT_RETIRED_KEY_FILES=str(missing))
