import stat

import pytest

from webshop import create_app
from webshop.config import ConfigError


def test_secret_key_is_generated_once_with_private_mode(tmp_path):
    first = create_app(instance_path=str(tmp_path))
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.config["SECRET_KEY"] == key_file.read_text().strip()
    assert len(first.config["SECRET_KEY"]) >= 32
    second = create_app(instance_path=str(tmp_path))
    assert second.config["SECRET_KEY"] == first.config["SECRET_KEY"]


def test_configured_secret_key_is_used_and_nothing_generated(tmp_path):
    app = create_app({"SECRET_KEY": "given"}, instance_path=str(tmp_path))
    assert app.config["SECRET_KEY"] == "given"
    assert not (tmp_path / "secret_key").exists()


def test_precedence_defaults_then_instance_file_then_environment(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text('STORE_NAME = "From file"\nSTORE_EMAIL = "file@example.org"\n')
    monkeypatch.setenv("FLASK_STORE_EMAIL", "env@example.org")
    app = create_app(instance_path=str(tmp_path))
    assert app.config["STORE_NAME"] == "From file"
    assert app.config["STORE_EMAIL"] == "env@example.org"
    assert app.config["STORE_ADDRESS"]  # the default survives


def test_a_test_config_replaces_the_instance_file_and_the_environment(tmp_path, monkeypatch):
    """A developer's FLASK_* variables or instance file never change what a test's app sees."""
    (tmp_path / "config.py").write_text('STORE_NAME = "From file"\n')
    monkeypatch.setenv("FLASK_STORE_EMAIL", "env@example.org")
    monkeypatch.setenv("FLASK_VISITS_ENABLED", "false")
    app = create_app({"SECRET_KEY": "given"}, instance_path=str(tmp_path))
    assert app.config["STORE_NAME"] == "Voltage & Vine Electronics"
    assert app.config["STORE_EMAIL"] == "privacy@voltage-vine.example"
    assert app.config["VISITS_ENABLED"] is True


def test_environment_list_values_are_parsed_as_json(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASK_SECRET_KEY_FALLBACKS", '["old-one", "older-one"]')
    monkeypatch.setenv("FLASK_TRUSTED_PROXIES", "1")
    app = create_app(instance_path=str(tmp_path))
    assert app.config["SECRET_KEY_FALLBACKS"] == ["old-one", "older-one"]
    assert app.config["TRUSTED_PROXIES"] == 1


def test_fallbacks_as_a_string_is_a_clear_startup_error(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASK_SECRET_KEY_FALLBACKS", "just-a-string")
    with pytest.raises(ConfigError, match="SECRET_KEY_FALLBACKS must be a list"):
        create_app(instance_path=str(tmp_path))


def test_negative_trusted_proxies_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        create_app({"TRUSTED_PROXIES": -1}, instance_path=str(tmp_path))


def test_default_database_is_sqlite_in_instance_folder(tmp_path):
    app = create_app({"SECRET_KEY": "k"}, instance_path=str(tmp_path))
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'webshop.sqlite3'}"


def test_store_details_appear_in_the_footer(client, app):
    html = client.get("/").get_data(as_text=True)
    assert app.config["STORE_EMAIL"] in html
    assert app.config["STORE_ADDRESS"] in html
