"""A database made by the first migration upgrades to the latest without losing rows."""

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from tests.support.apps import empty_app
from webshop.catalogue import seed_catalogue
from webshop.db import MIGRATIONS_DIR, db


def test_first_migration_upgrades_to_latest_keeping_rows(database, request, tmp_path):
    with empty_app(database, request, tmp_path):
        upgrade(directory=MIGRATIONS_DIR, revision="0001")
        seed_catalogue()
        db.session.execute(
            text(
                "INSERT INTO submission (receipt_id, kind, created_at, email, name, fields, no_marketing,"
                " no_share, blocking_signal, domain_confirmed, policy_version)"
                " VALUES ('r-1', 'order', CURRENT_TIMESTAMP, 'old@example.org', 'Old Customer', '{}',"
                " false, true, false, false, '2026-11')"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO orders (number, created_at, submission_id, name, email, address, total_cents)"
                " VALUES ('WS-OLD', CURRENT_TIMESTAMP, 1, 'Old Customer', 'old@example.org', 'Somewhere 1', 6490)"
            )
        )
        db.session.commit()
        products_before = db.session.execute(text("SELECT count(*) FROM product")).scalar_one()

        upgrade(directory=MIGRATIONS_DIR, revision="head")

        tables = set(inspect(db.engine).get_table_names())
        assert {"visit", "subscription", "sharing_ledger", "email_preference"} <= tables
        assert db.session.execute(text("SELECT count(*) FROM product")).scalar_one() == products_before
        row = db.session.execute(text("SELECT email, no_share FROM submission WHERE receipt_id = 'r-1'")).one()
        assert row.email == "old@example.org" and row.no_share
        assert db.session.execute(text("SELECT total_cents FROM orders WHERE number = 'WS-OLD'")).scalar_one() == 6490


def test_subscriptions_made_before_stored_unsubscribe_tokens_each_get_their_own(database, request, tmp_path):
    with empty_app(database, request, tmp_path):
        upgrade(directory=MIGRATIONS_DIR, revision="0006")
        for email in ("a@example.org", "b@example.org"):
            db.session.execute(
                text(
                    "INSERT INTO subscription (email, status, topics, created_at)"
                    " VALUES (:email, 'confirmed', '[]', CURRENT_TIMESTAMP)"
                ),
                {"email": email},
            )
        db.session.commit()
        upgrade(directory=MIGRATIONS_DIR, revision="head")
        tokens = db.session.execute(text("SELECT unsubscribe_token FROM subscription")).scalars().all()
        assert len(tokens) == 2 and len(set(tokens)) == 2 and all(len(t) >= 40 for t in tokens)


def test_every_migration_downgrades_cleanly_to_the_first(database, request, tmp_path):
    with empty_app(database, request, tmp_path):
        upgrade(directory=MIGRATIONS_DIR, revision="head")
        downgrade(directory=MIGRATIONS_DIR, revision="0001")
        tables = set(inspect(db.engine).get_table_names())
        assert "visit" not in tables and "product" in tables


def test_models_and_migrations_describe_the_same_schema(database, request, tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with empty_app(database, request, tmp_path):
        upgrade(directory=MIGRATIONS_DIR, revision="head")
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_the_dashboards_day_tallies_are_filled_from_the_submissions_and_the_spans_counted_again(
    database, request, tmp_path
):
    with empty_app(database, request, tmp_path):
        upgrade(directory=MIGRATIONS_DIR, revision="0016")
        for n, (created, kind, no_marketing, erased) in enumerate(
            [
                ("2026-11-01 00:00:00", "survey", True, None),
                ("2026-11-01 23:59:59", "survey", False, None),
                ("2026-11-02 08:00:00", "survey", True, None),
                ("2026-11-02 09:00:00", "order", True, "2026-11-03 00:00:00"),  # erased: not held
            ]
        ):
            db.session.execute(
                text(
                    "INSERT INTO submission (receipt_id, kind, created_at, email, fields, no_marketing, no_share,"
                    " blocking_signal, domain_confirmed, policy_version, erased_at)"
                    " VALUES (:id, :kind, :created, 'a@example.org', '{}', :no_marketing, false, false, false,"
                    " '2026-11', :erased)"
                ),
                {"id": f"r-{n}", "kind": kind, "created": created, "no_marketing": no_marketing, "erased": erased},
            )
        db.session.execute(
            text("INSERT INTO visit_span (first, last, visitors, ips) VALUES ('2026-11-01', '2026-11-29', 3, 2)")
        )
        db.session.commit()

        upgrade(directory=MIGRATIONS_DIR, revision="head")

        tallies = db.session.execute(
            text("SELECT day, kind, held, no_marketing, no_share FROM submission_day_tally ORDER BY day, kind")
        ).all()
        assert [(str(day)[:10], *rest) for day, *rest in tallies] == [
            ("2026-11-01", "survey", 2, 1, 0),
            ("2026-11-02", "survey", 1, 1, 0),
        ]
        assert db.session.execute(text("SELECT count(*) FROM visit_span")).scalar_one() == 0  # counted again
