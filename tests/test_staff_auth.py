"""Staff accounts, the /admin gate, sign-in and sign-out, and sign-in throttling."""

import re
import shutil
import tempfile
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from tests.support.apps import TEST_KEY, empty_app
from tests.support.pages import csrf_token_from, submit
from tests.support.staff import PASSWORD, create_staff, sign_in, signed_in
from webshop import create_app
from webshop.db import db
from webshop.models import SignInThrottle, StaffSession, StaffUser, utcnow


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


def from_address(number: int) -> dict:
    return {"environ_base": {"REMOTE_ADDR": f"203.0.113.{number}" if number < 256 else f"2001:db8:{number:x}::1"}}


class TestThrottling:
    def failures(self, app, key):
        with app.app_context():
            row = db.session.get(SignInThrottle, key)
            return (row.failures, row.locked_until) if row else (0, None)

    def test_five_failures_from_one_address_lock_it_out_even_against_the_right_password(self, app, client):
        create_staff(app)
        for _ in range(5):
            assert sign_in(client, "alice", "wrong password!").status_code == 401
        locked = sign_in(client, "alice", PASSWORD)
        assert locked.status_code == 429
        text = locked.get_data(as_text=True)
        assert "Too many failed sign-ins" in text and "try again in" in text
        assert client.get("/admin/").status_code == 303
        failures, until = self.failures(app, "client:alice|127.0.0.1")
        assert failures == 5 and until > utcnow() + timedelta(seconds=50)

    @pytest.mark.parametrize(("addresses", "each"), [(5, 5), (50, 1)])
    def test_failures_from_many_addresses_do_not_lock_out_the_right_password(self, app, addresses, each):
        create_staff(app)
        for number in range(1, addresses + 1):
            attacker = app.test_client()
            for _ in range(each):
                assert sign_in(attacker, "alice", "wrong password!", **from_address(number)).status_code == 401
            if each == 5:  # this address is locked out, whatever it sends
                assert sign_in(attacker, "alice", PASSWORD, **from_address(number)).status_code == 429
        staff = app.test_client()  # a browser that never signed in, from one more address
        assert sign_in(staff, "alice", PASSWORD, **from_address(addresses + 1)).status_code == 303
        assert staff.get("/admin/", **from_address(addresses + 1)).status_code == 200

    def test_guesses_per_account_are_bounded_from_any_number_of_addresses(self, app):
        """100 wrong passwords an hour per account, from all addresses together, then a pause for new browsers."""
        create_staff(app)
        usual = app.test_client()  # the staff member's own browser, signed in before the attack
        assert sign_in(usual, "alice", PASSWORD, **from_address(250)).status_code == 303
        usual.delete_cookie("session")  # the browser was closed: the device cookie stays
        for number in range(1, 101):  # one guess each, IPv6 too: no address is ever locked
            attacker = app.test_client()
            assert sign_in(attacker, "alice", "wrong password!", **from_address(number + 300)).status_code == 401
        for guess in ("wrong password!", PASSWORD):  # the 101st guess is not even tried
            assert sign_in(app.test_client(), "alice", guess, **from_address(7)).status_code == 429
        failures, until = self.failures(app, "account:alice")
        assert failures == 100 and until > utcnow() + timedelta(minutes=59)
        # The browser that signed in before passes the pause, from any address.
        assert sign_in(usual, "alice", PASSWORD, **from_address(251)).status_code == 303
        assert self.failures(app, "account:alice")[0] == 100  # signing in gives a guesser no fresh allowance
        with app.app_context():  # the hour's pause has run out: a fresh count of 100
            db.session.get(SignInThrottle, "account:alice").locked_until = utcnow() - timedelta(seconds=1)
            db.session.commit()
        assert sign_in(app.test_client(), "alice", "wrong password!", **from_address(8)).status_code == 401
        assert self.failures(app, "account:alice")[0] == 1

    def test_one_ipv6_host_cannot_spread_guesses_over_its_own_addresses(self, app):
        create_staff(app)
        for host in range(1, 6):
            client = app.test_client()
            response = sign_in(client, "alice", "wrong password!", environ_base={"REMOTE_ADDR": f"2001:db8::{host}"})
            assert response.status_code == 401
        other = app.test_client()
        assert sign_in(other, "alice", PASSWORD, environ_base={"REMOTE_ADDR": "2001:db8::99"}).status_code == 429

    def test_a_trusted_browser_is_throttled_on_its_own_and_only_for_its_account(self, app):
        create_staff(app)
        create_staff(app, "bob")
        usual = app.test_client()
        assert sign_in(usual, "bob", PASSWORD).status_code == 303  # trusted for bob, not for alice
        usual.delete_cookie("session")
        app.config["STAFF_MAX_FAILURES_PER_ACCOUNT"] = 3
        for number in range(1, 4):
            sign_in(app.test_client(), "alice", "wrong password!", **from_address(number))
        assert sign_in(usual, "alice", PASSWORD, **from_address(9)).status_code == 429
        for _ in range(5):
            assert sign_in(usual, "bob", "wrong password!", **from_address(9)).status_code == 401
        assert sign_in(usual, "bob", PASSWORD, **from_address(9)).status_code == 429
        usual.set_cookie("staff_device", "forged.value.here")
        assert sign_in(usual, "bob", PASSWORD, **from_address(10)).status_code == 303  # bob's own count is untouched

    def test_lockout_grows_with_each_further_failure_and_ends_with_its_period(self, app, client):
        create_staff(app)
        key = "client:alice|127.0.0.1"
        for _ in range(5):
            sign_in(client, "alice", "wrong password!")
        with app.app_context():  # the first lockout has run out
            db.session.get(SignInThrottle, key).locked_until = utcnow() - timedelta(seconds=1)
            db.session.commit()
        assert sign_in(client, "alice", "wrong again!!").status_code == 401
        failures, until = self.failures(app, key)
        assert failures == 6 and until > utcnow() + timedelta(seconds=110)  # doubled: 120 s
        with app.app_context():
            db.session.get(SignInThrottle, key).locked_until = utcnow() - timedelta(seconds=1)
            db.session.commit()
        assert sign_in(client, "alice", PASSWORD).status_code == 303
        assert self.failures(app, key) == (0, None)

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


class TestRemovedStaff:
    """A removed account's sign-in dies with it, and its id never goes to the next account."""

    @staticmethod
    def keys_off(conn):
        """Turn off foreign-key enforcement on this connection, the way a careless tool might run."""
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
        else:
            conn.exec_driver_sql("SET session_replication_role = replica")
        conn.commit()  # so that an ORM session on this connection commits its own transaction

    @staticmethod
    def count_sessions(conn) -> int:
        return conn.execute(db.select(db.func.count()).select_from(StaffSession)).scalar_one()

    def test_deleting_through_the_orm_deletes_the_sessions_even_with_foreign_keys_off(self, app, client):
        signed_in(app, client)
        with app.app_context(), db.engine.connect() as conn:
            self.keys_off(conn)
            with Session(bind=conn) as orm:
                orm.delete(orm.execute(db.select(StaffUser).where(StaffUser.name == "alice")).scalar_one())
                orm.commit()
            assert self.count_sessions(conn) == 0
        create_staff(app, "bob")
        assert client.get("/admin/").status_code == 303

    def test_a_stray_session_left_by_plain_sql_signs_in_no_one(self, app, client):
        signed_in(app, client)
        with app.app_context():
            before = db.session.execute(db.select(StaffUser.id).where(StaffUser.name == "alice")).scalar_one()
            with db.engine.connect() as conn:
                self.keys_off(conn)
                conn.execute(db.delete(StaffUser).where(StaffUser.name == "alice"))
                conn.commit()
                assert self.count_sessions(conn) == 1  # nothing cascaded: the row outlives its account
        create_staff(app, "bob")
        page = client.get("/admin/")
        assert page.status_code == 303 and page.headers["Location"].startswith("/admin/login")
        assert "bob" not in client.get("/admin/login").get_data(as_text=True)
        with app.app_context():
            assert db.session.execute(db.select(StaffUser.id).where(StaffUser.name == "bob")).scalar_one() != before

    @pytest.mark.only_database("sqlite")
    def test_the_migration_keeps_live_sessions_drops_stray_ones_and_stops_id_reuse(self, database, request, tmp_path):
        from flask_migrate import upgrade
        from sqlalchemy import text

        from webshop.db import MIGRATIONS_DIR

        with empty_app(database, request, tmp_path):
            upgrade(directory=MIGRATIONS_DIR, revision="0007")
            for staff_id, name in ((1, "alice"), (2, "bob")):
                db.session.execute(
                    text("INSERT INTO staff_user (id, name, password_hash, created_at) VALUES (:id, :name, 'x', :now)"),
                    {"id": staff_id, "name": name, "now": utcnow()},
                )
                db.session.execute(
                    text("INSERT INTO staff_session VALUES (:token, :id, :now, :now)"),
                    {"token": f"token-of-{name}", "id": staff_id, "now": utcnow()},
                )
            db.session.commit()
            with db.engine.connect() as conn:  # bob removed where foreign keys were off: his session stays
                self.keys_off(conn)
                conn.execute(text("DELETE FROM staff_user WHERE id = 2"))
                conn.commit()
            upgrade(directory=MIGRATIONS_DIR, revision="head")
            sessions = db.session.execute(text("SELECT token_hash, staff_id FROM staff_session")).all()
            assert [tuple(row) for row in sessions] == [("token-of-alice", 1)]
            db.session.add(StaffUser(name="carol", password_hash="x"))
            db.session.commit()
            db.session.execute(db.delete(StaffUser).where(StaffUser.name == "carol"))
            db.session.add(StaffUser(name="dave", password_hash="x"))
            db.session.commit()
            ids = dict(db.session.execute(db.select(StaffUser.name, StaffUser.id)).all())
            assert ids["alice"] == 1 and ids["dave"] > 2  # carol's id is not handed on
