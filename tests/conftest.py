"""Fixtures: a fresh database per test on SQLite and on a real PostgreSQL server.

Every test that uses ``app`` runs twice, once per database, unless
``--databases`` narrows it. The PostgreSQL server is a throwaway cluster
started here with ``pg_ctl``. A skipped test counts as a failure: the
suite's own setup installs everything the tests need. Every server a test
starts is stopped however the run ends (tests/support/processes.py).
"""

import shutil

import pytest

from tests.support import processes, url_builders
from tests.support.apps import TEST_KEY, build_schema
from tests.support.dns import LoopbackDNS
from tests.support.fresh_postgres import FreshDatabases
from tests.support.postgres import PostgresServer
from tests.support.smtp import SMTPServer
from webshop import create_app
from webshop.db import db


def pytest_configure(config):
    processes.install()  # in xdist's controller too: it passes SIGTERM on to the workers
    url_builders.install()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    """After every fixture's teardown: whatever server is still registered was left running."""
    processes.stop_all()


def pytest_addoption(parser):
    parser.addoption(
        "--databases",
        default="sqlite,postgresql",
        help="comma-separated database backends to run database tests on",
    )


def pytest_generate_tests(metafunc):
    if "database" in metafunc.fixturenames:
        backends = metafunc.config.getoption("--databases").split(",")
        only = metafunc.definition.get_closest_marker("only_database")
        if only:
            backends = [b for b in backends if b in only.args]
        metafunc.parametrize("database", backends, indirect=True)


SKIP_IS_FAILURE = "which this suite treats as a failure"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skip is a failure: nothing in this suite may quietly not run."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"test was skipped, {SKIP_IS_FAILURE}: {report.longrepr}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A module that skips itself while being collected (``importorskip`` at module level) fails too.

    Changed here, before any ``pytest_collectreport`` hook or the terminal
    sees the report, so the run counts it as a collection error.
    """
    outcome = yield
    report = outcome.get_result()
    if report.skipped:
        report.outcome = "failed"
        report.longrepr = f"{collector.nodeid} skipped itself while collected, {SKIP_IS_FAILURE}: {report.longrepr}"


@pytest.fixture(scope="session")
def postgres_server():
    server = PostgresServer()
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.sqlite3"
    build_schema(f"sqlite:///{path}", folder)
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_server, tmp_path_factory):
    postgres_server.admin("CREATE DATABASE webshop_template")
    build_schema(postgres_server.url("webshop_template"), tmp_path_factory.mktemp("pg-template"))
    return "webshop_template"


def release_apps():
    """Stop every app's visit writer and close its connections.

    Tests that build extra apps (key rotation, migrations) leave writers and
    pooled connections behind; they are closed here, before their database
    is dropped, rather than at interpreter exit.
    """
    from webshop.visits.writer import WRITERS, stop_all

    stop_all()
    for writer in list(WRITERS):
        with writer.app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture(scope="session")
def postgres_databases(postgres_server, postgres_template):
    """This worker's PostgreSQL test database, put back to the template's state after each test."""
    databases = FreshDatabases(postgres_server, postgres_template)
    yield databases
    databases.remove()


@pytest.fixture
def database(request, tmp_path):
    """A fresh, migrated, seeded database; the parameter names the backend."""
    if request.param == "sqlite":
        path = tmp_path / "instance" / "webshop.sqlite3"
        path.parent.mkdir(exist_ok=True)
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        release_apps()
        return
    databases = request.getfixturevalue("postgres_databases")
    yield databases.checkout()
    release_apps()
    databases.release()


@pytest.fixture
def instance_path(tmp_path):
    path = tmp_path / "instance"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def app_config():
    """Extra configuration for one test: override this fixture or mutate the dict."""
    return {}


@pytest.fixture
def app(database, instance_path, app_config):
    config = {
        "TESTING": True,
        "SECRET_KEY": TEST_KEY,
        "SQLALCHEMY_DATABASE_URI": database,
        "RDNS_ENABLED": False,
        "RATELIMIT_ENABLED": False,  # tests post far faster than people; tests/test_limits.py turns it on
        **app_config,
    }
    app = create_app(config, instance_path=str(instance_path))
    yield app
    from webshop.visits import shutdown

    shutdown(app)  # the visit writer stores what it holds before the database goes
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback that keeps what it receives; ``.config`` points an app at it."""
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dns_server():
    """A real DNS server on loopback with a small zone; ``.config`` turns an app's reverse DNS on against it."""
    server = LoopbackDNS().start()
    yield server
    server.stop()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
