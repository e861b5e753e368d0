"""Staff accounts, the /admin gate, sign-in and sign-out, and sign-in throttling."""

import re
import shutil
import tempfile
from datetime import timedelta

import pytest
from werkzeug.security import check_password_hash

from tests.conftest import TEST_KEY
from tests.helpers import csrf_token_from, submit
from tests.staff import PASSWORD, create_staff, sign_in, signed_in
from webshop import create_app
from webshop.db import db
from webshop.models import utcnow
from webshop.staff.models import SignInThrottle, StaffSession, StaffUser


def admin_rules():
    """Every /admin rule and method except the sign-in page, from a real app's URL map."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SECRET_KEY": TEST_KEY, "VISITS_ENABLED": False, "RDNS_ENABLED": False}, instance_path=folder)
        found = []
        for rule in app.url_map.iter_rules():
            if not rule.rule.startswith("/admin") or rule.endpoint == "staff.login":
                continue
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((method, rule.rule))
        return sorted(found)


ADMIN_RULES = admin_rules()


def concrete(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?[^>]+>", "1", rule)


@pytest.fixture
def app_config():
    return {"VISITS_ENABLED": False}


def test_the_url_map_has_the_staff_pages():
    paths = {rule for _, rule in ADMIN_RULES}
    assert {"/admin/", "/admin/visits", "/admin/export", "/admin/notices", "/admin/outbox", "/admin/logout"} <= paths


@pytest.fixture(scope="module")
def gate_app(sqlite_template, tmp_path_factory):
    """One app for the whole URL map: an anonymous request never reaches the database.

    CSRF is off so that a POST reaches the gate itself: it alone must refuse.
    """
    folder = tmp_path_factory.mktemp("gate")
    shutil.copy(sqlite_template, folder / "webshop.sqlite3")
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": TEST_KEY,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'webshop.sqlite3'}",
            "WTF_CSRF_ENABLED": False,
            "VISITS_ENABLED": False,
            "RDNS_ENABLED": False,
        },
        instance_path=str(folder),
    )
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(("method", "rule"), ADMIN_RULES, ids=[f"{m} {r}" for m, r in ADMIN_RULES])
def test_every_admin_url_refuses_anonymous_access(gate_app, method, rule):
    client = gate_app.test_client()
    response = client.open(concrete(rule), method=method, data={"action": "hide", "name": "x", "purpose": "x"})
    if method == "GET":
        assert response.status_code == 303
        assert response.headers["Location"].startswith("/admin/login?next=")
    else:
        assert response.status_code == 401
    with client.session_transaction() as session:
        assert "staff_token" not in session


def test_a_forged_session_value_is_not_a_sign_in(app, client):
    create_staff(app)
    with client.session_transaction() as session:
        session["staff_token"] = "guessed"
    assert client.get("/admin/").status_code == 303


def test_sign_in_leads_to_the_page_asked_for_and_sign_out_ends_the_session(app, client):
    create_staff(app)
    first = client.get("/admin/visits")
    assert first.headers["Location"] == "/admin/login?next=/admin/visits"
    response = submit(client, first.headers["Location"], {"name": "alice", "password": PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/visits"
    page = client.get("/admin/visits")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    with client.session_transaction() as session:
        stolen = dict(session)

    token = csrf_token_from(page.get_data(as_text=True))
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/admin/").status_code == 303
    with client.session_transaction() as session:  # a copy of the old cookie is worth nothing now
        session.update(stolen)
    assert client.get("/admin/").status_code == 303
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(StaffSession)).scalar_one() == 0


def test_sign_in_starts_a_new_session_and_ignores_outside_next(app, client):
    create_staff(app)
    client.get("/admin/login")
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
        before = session["csrf_token"]
    response = submit(client, "/admin/login?next=//evil.example/", {"name": "alice", "password": PASSWORD})
    assert response.headers["Location"] == "/admin/"
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("csrf_token") != before


def test_wrong_password_and_unknown_name_get_the_same_answer(app, client):
    create_staff(app)
    wrong = sign_in(client, "alice", "not the password")
    unknown = sign_in(client, "mallory", "not the password")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "That staff name and password do not match." in response.get_data(as_text=True)


class TestThrottling:
    def failures(self, app, key):
        with app.app_context():
            row = db.session.get(SignInThrottle, key)
            return (row.failures, row.locked_until) if row else (0, None)

    def test_five_failures_lock_the_account_even_against_the_right_password(self, app, client):
        create_staff(app)
        for _ in range(5):
            assert sign_in(client, "alice", "wrong password!").status_code == 401
        locked = sign_in(client, "alice", PASSWORD)
        assert locked.status_code == 429
        text = locked.get_data(as_text=True)
        assert "Too many failed sign-ins" in text and "try again in" in text
        assert client.get("/admin/").status_code == 303
        failures, until = self.failures(app, "account:alice")
        assert failures == 5 and until > utcnow() + timedelta(seconds=50)

    def test_lockout_grows_with_each_further_failure_and_ends_with_its_period(self, app, client):
        create_staff(app)
        for _ in range(5):
            sign_in(client, "alice", "wrong password!")
        with app.app_context():  # the first lockout has run out
            db.session.get(SignInThrottle, "account:alice").locked_until = utcnow() - timedelta(seconds=1)
            db.session.commit()
        assert sign_in(client, "alice", "wrong again!!").status_code == 401
        failures, until = self.failures(app, "account:alice")
        assert failures == 6 and until > utcnow() + timedelta(seconds=110)  # doubled: 120 s
        with app.app_context():
            db.session.get(SignInThrottle, "account:alice").locked_until = utcnow() - timedelta(seconds=1)
            db.session.commit()
        assert sign_in(client, "alice", PASSWORD).status_code == 303
        assert self.failures(app, "account:alice") == (0, None)

    def test_failures_from_one_address_across_names_lock_that_address(self, app, client):
        app.config["STAFF_MAX_FAILURES_PER_IP"] = 4
        create_staff(app)
        for name in ("bob", "carol", "dave", "erin"):
            sign_in(client, name, "wrong password!")
        assert sign_in(client, "alice", PASSWORD).status_code == 429
        other = app.test_client()  # another address is not affected
        assert sign_in(other, "alice", PASSWORD, environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 303

    def test_the_count_is_kept_in_the_database_for_every_worker(self, app, client):
        create_staff(app)
        for _ in range(3):
            sign_in(client, "alice", "wrong password!")
        second_worker = create_app(
            {
                **{k: app.config[k] for k in ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI")},
                "TESTING": True,
                "RDNS_ENABLED": False,
                "VISITS_ENABLED": False,
            },
            instance_path=app.instance_path,
        )
        other = second_worker.test_client()
        for _ in range(2):
            sign_in(other, "alice", "wrong password!")
        assert sign_in(client, "alice", PASSWORD).status_code == 429
        with second_worker.app_context():
            db.engine.dispose()


class TestStaffCreate:
    def test_password_from_the_environment(self, app, runner):
        result = runner.invoke(args=["staff", "create", "bob"], env={"WEBSHOP_STAFF_PASSWORD": "twelve chars!"})
        assert result.exit_code == 0, result.output
        with app.app_context():
            user = db.session.execute(db.select(StaffUser).where(StaffUser.name == "bob")).scalar_one()
            assert user.password_hash != "twelve chars!"
            assert check_password_hash(user.password_hash, "twelve chars!")

    def test_password_prompted_twice(self, app, runner, client):
        result = runner.invoke(
            args=["staff", "create", "carol"],
            input="prompted password\nprompted password\n",
            env={"WEBSHOP_STAFF_PASSWORD": None},
        )
        assert result.exit_code == 0, result.output
        assert "prompted password" not in result.output
        assert sign_in(client, "carol", "prompted password").status_code == 303

    def test_mismatched_confirmation_is_asked_again(self, runner):
        result = runner.invoke(
            args=["staff", "create", "dan"],
            input="first password 1\nsecond password\n",
            env={"WEBSHOP_STAFF_PASSWORD": None},
        )
        assert result.exit_code != 0
        assert "do not match" in result.output

    def test_short_password_and_duplicate_name_are_refused(self, app, runner):
        short = runner.invoke(args=["staff", "create", "erin"], env={"WEBSHOP_STAFF_PASSWORD": "short"})
        assert short.exit_code != 0 and "at least 12 characters" in short.output
        create_staff(app, "frank")
        again = runner.invoke(args=["staff", "create", "frank"], env={"WEBSHOP_STAFF_PASSWORD": "twelve chars!"})
        assert again.exit_code != 0 and "already exists" in again.output
        with app.app_context():
            assert db.session.execute(db.select(db.func.count()).select_from(StaffUser)).scalar_one() == 1

    def test_there_is_no_default_account(self, app):
        with app.app_context():
            assert db.session.execute(db.select(db.func.count()).select_from(StaffUser)).scalar_one() == 0


def test_signed_in_staff_see_every_page(app, client):
    signed_in(app, client)
    for method, rule in ADMIN_RULES:
        if method == "GET" and "<" not in rule:
            assert client.get(rule).status_code == 200, rule
