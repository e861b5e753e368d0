"""The real app on a copy of the seeded SQLite file, served by werkzeug in a thread, for Chromium to browse."""

import shutil
import threading
from contextlib import contextmanager
from types import SimpleNamespace

from werkzeug.serving import make_server

from tests.support.apps import TEST_KEY
from webshop import create_app
from webshop.db import db


@contextmanager
def serving(sqlite_template, instance_path, config):
    """The real app on a copy of the seeded SQLite file, served by werkzeug in a thread."""
    db_file = instance_path / "webshop.sqlite3"
    shutil.copy(sqlite_template, db_file)
    app = create_app(
        {
            "SECRET_KEY": TEST_KEY,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_file}",
            "RDNS_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            **config,
        },
        instance_path=str(instance_path),
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}", app=app, instance_path=instance_path)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            db.engine.dispose()
