"""Apps as the suite builds them: the secret key they share, and databases migrated as ``flask init-db`` does."""

import uuid
from contextlib import contextmanager
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import text

from webshop import create_app
from webshop.catalogue import seed_catalogue
from webshop.db import MIGRATIONS_DIR, db

TEST_KEY = "test-secret-key-for-the-suite-only"


def build_schema(uri: str, instance: Path):
    """Run every migration and seed the catalogue, as ``flask init-db`` does."""
    app = create_app({"SECRET_KEY": TEST_KEY, "SQLALCHEMY_DATABASE_URI": uri}, instance_path=str(instance))
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR, revision="head")
        seed_catalogue()
        if uri.startswith("sqlite"):
            db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.engine.dispose()


def empty_database(database, postgres_server_or_none, tmp_path):
    if database.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    name = "m_" + uuid.uuid4().hex[:10]
    postgres_server_or_none.admin(f"CREATE DATABASE {name}")
    return postgres_server_or_none.url(name)


@contextmanager
def empty_app(database, request, tmp_path):
    """An app context on a new, empty database of the kind under test; closed afterwards."""
    server = request.getfixturevalue("postgres_server") if database.startswith("postgresql") else None
    uri = empty_database(database, server, tmp_path)
    app = create_app({"SECRET_KEY": TEST_KEY, "SQLALCHEMY_DATABASE_URI": uri}, instance_path=str(tmp_path))
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()
