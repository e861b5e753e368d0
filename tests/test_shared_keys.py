"""Two hosts on one database sign with the same keys, or the second refuses to start and says how to fix it."""

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from webshop import create_app
from webshop.config import ConfigError
from webshop.db import db
from webshop.receipt_signatures import KEY_FILE, new_key_pem


def host(database, folder: Path, **config):
    """A shop with an instance folder of its own on the shared database."""
    folder.mkdir(exist_ok=True)
    settings = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database, "RDNS_ENABLED": False, **config}
    return create_app(settings, instance_path=str(folder))


def recorded(database) -> dict:
    engine = create_engine(database)
    with engine.connect() as connection:
        rows = dict(connection.execute(text("SELECT name, fingerprint FROM signing_key_check")).all())
    engine.dispose()
    return rows


def key_file(folder: Path) -> str:
    path = folder / "key.pem"
    path.write_bytes(new_key_pem())
    return str(path)


def test_two_hosts_with_generated_secret_keys_the_second_refuses_saying_how(database, tmp_path):
    shared = key_file(tmp_path)
    host(database, tmp_path / "a", RECEIPT_SIGNING_KEY_FILE=shared)
    with pytest.raises(ConfigError) as refusal:
        host(database, tmp_path / "b", RECEIPT_SIGNING_KEY_FILE=shared)
    message = str(refusal.value)
    assert "SECRET_KEY is not the key this shop's database records" in message
    assert "generated into" in message and "FLASK_SECRET_KEY" in message and "SECRET_KEY_FALLBACKS" in message
    assert '"Several hosts"' in message


def test_two_hosts_with_generated_receipt_keys_the_second_refuses_saying_how(database, tmp_path):
    host(database, tmp_path / "a", SECRET_KEY="shared")
    with pytest.raises(ConfigError, match="receipt signing key") as refusal:
        host(database, tmp_path / "b", SECRET_KEY="shared")
    assert "RECEIPT_SIGNING_KEY_FILE" in str(refusal.value) and "RECEIPT_RETIRED_KEY_FILES" in str(refusal.value)


def test_two_hosts_with_the_same_keys_both_start(database, tmp_path):
    shared = key_file(tmp_path)
    first = host(database, tmp_path / "a", SECRET_KEY="shared", RECEIPT_SIGNING_KEY_FILE=shared)
    second = host(database, tmp_path / "b", SECRET_KEY="shared", RECEIPT_SIGNING_KEY_FILE=shared)
    assert first.test_client().get("/").status_code == 200
    assert second.test_client().get("/").status_code == 200


def test_a_rotation_moves_the_record_and_a_host_on_the_old_key_then_refuses(database, tmp_path):
    shared = key_file(tmp_path)
    host(database, tmp_path / "a", SECRET_KEY="old", RECEIPT_SIGNING_KEY_FILE=shared)
    before = recorded(database)["secret_key"]
    host(database, tmp_path / "b", SECRET_KEY="new", SECRET_KEY_FALLBACKS=["old"], RECEIPT_SIGNING_KEY_FILE=shared)
    assert recorded(database)["secret_key"] != before
    with pytest.raises(ConfigError, match="SECRET_KEY is not the key"):
        host(database, tmp_path / "a", SECRET_KEY="old", RECEIPT_SIGNING_KEY_FILE=shared)


def test_a_receipt_key_rotation_moves_the_record_and_the_old_key_then_refuses(database, tmp_path):
    (tmp_path / "keys").mkdir()
    old, new = key_file(tmp_path / "keys"), key_file(tmp_path)
    host(database, tmp_path / "a", SECRET_KEY="k", RECEIPT_SIGNING_KEY_FILE=old)
    before = recorded(database)["receipt_key"]
    host(database, tmp_path / "b", SECRET_KEY="k", RECEIPT_SIGNING_KEY_FILE=new, RECEIPT_RETIRED_KEY_FILES=[old])
    assert recorded(database)["receipt_key"] != before
    with pytest.raises(ConfigError, match="receipt signing key"):
        host(database, tmp_path / "c", SECRET_KEY="k", RECEIPT_SIGNING_KEY_FILE=old)


def test_without_the_table_the_shop_starts(database, tmp_path):
    engine = create_engine(database)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE signing_key_check"))
    engine.dispose()
    host(database, tmp_path / "a")
    host(database, tmp_path / "b")


@pytest.mark.only_database("sqlite")
def test_the_database_file_holds_no_key(database, tmp_path):
    secret = "a-secret-key-that-must-not-reach-the-database-file"
    app = host(database, tmp_path / "a", SECRET_KEY=secret)
    with app.app_context():
        db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.engine.dispose()
    stored = Path(database.removeprefix("sqlite:///")).read_bytes()
    assert recorded(database)["secret_key"].encode() in stored  # the search would see the fingerprint
    assert secret.encode() not in stored
    pem = (tmp_path / "a" / KEY_FILE).read_bytes()
    body = b"".join(pem.splitlines()[1:-1])
    assert body not in stored
