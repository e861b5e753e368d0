"""The pages whose data grows read what they show from an index, however many rows there are.

The statements are the ones the pages really run, caught as they run, and
SQLite's EXPLAIN QUERY PLAN says how it reads them: a visitor's visits
through ``ix_visit_visitor_time`` with no sort, the visit log's path filter
as a range of ``ix_visit_path_time``, and the policy page's figures without
a scan of the submissions. PostgreSQL's EXPLAIN shows it can read the path
range from the same index.
"""

from datetime import timedelta

import pytest
from sqlalchemy import event

from tests.support.pages import acknowledge_banner
from tests.support.staff import signed_in, submission, visit
from webshop import cookies
from webshop.db import db
from webshop.models import utcnow

VISITOR = "visitor-with-many-visits"


@pytest.fixture
def app_config():
    return {"VISITS_ENABLED": False}


def statements_of(app, requests) -> list[tuple[str, tuple]]:
    """The statements reading one visitor's visits in time order while ``requests`` run."""
    caught = []

    def catch(conn, cursor, statement, parameters, context, executemany):
        if "FROM visit" in statement and "visit.visitor_id = ?" in statement and "ORDER BY visit.time" in statement:
            caught.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", catch)
    try:
        for request in requests:
            assert request().status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", catch)
    return caught


def query_plan(app, statement: str, parameters) -> str:
    with app.app_context():
        rows = db.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        return "\n".join(row[-1] for row in rows)


@pytest.mark.only_database("sqlite")
def test_a_visitors_visits_are_read_newest_first_from_the_index_without_a_sort(app, client):
    now = utcnow()
    with app.app_context():
        db.session.add_all(visit(now - timedelta(hours=n), f"/p{n}", visitor=VISITOR) for n in range(30))
        db.session.commit()
    staff = signed_in(app, app.test_client())
    acknowledge_banner(client)
    with app.test_request_context():
        client.set_cookie("visitor", cookies.sign("visitor", VISITOR))

    caught = statements_of(
        app,
        [
            lambda: staff.get(f"/admin/visitors/{VISITOR}"),
            lambda: client.get("/my-data"),
            lambda: client.get("/privacy"),
        ],
    )

    assert len(caught) >= 3  # the profile, "your data" and the policy page's evidence each list them
    for statement, parameters in caught:
        plan = query_plan(app, statement, parameters)
        assert "ix_visit_visitor_time" in plan, (statement, plan)
        assert "TEMP B-TREE" not in plan, (statement, plan)


def statements_matching(app, requests, *needles: str) -> list[tuple[str, tuple]]:
    """The statements holding every one of ``needles`` that run while ``requests`` run."""
    caught = []

    def catch(conn, cursor, statement, parameters, context, executemany):
        if all(needle in statement for needle in needles):
            caught.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", catch)
    try:
        for request in requests:
            assert request().status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", catch)
    return caught


def add_visits_on_paths(app, count: int = 40) -> None:
    now = utcnow()
    paths = ["/checkout", "/checkout/done", "/product/hush-anc", "/cart", "/"]
    with app.app_context():
        db.session.add_all(visit(now - timedelta(hours=n), paths[n % len(paths)]) for n in range(count))
        db.session.commit()


@pytest.mark.only_database("sqlite")
def test_the_visit_log_filtered_by_a_path_reads_only_that_paths_visits_from_the_index(app):
    add_visits_on_paths(app)
    staff = signed_in(app, app.test_client())
    since = (utcnow() - timedelta(days=30)).date().isoformat()

    caught = statements_matching(
        app,
        [lambda: staff.get(f"/admin/visits?path=/checkout&from={since}"), lambda: staff.get("/admin/visits?path=/c")],
        "FROM visit",
        "visit.path >= ?",
    )

    assert len(caught) >= 4  # per page: the ids shown, counting the matches
    for statement, parameters in caught:
        plan = query_plan(app, statement, parameters)
        assert "ix_visit_path_time (path>? AND path<?)" in plan, (statement, plan)
        assert "SCAN visit" not in plan, (statement, plan)
    counting = [query_plan(app, s, p) for s, p in caught if "count(" in s]
    assert counting and all("COVERING INDEX ix_visit_path_time" in plan for plan in counting)


@pytest.mark.only_database("postgresql")
def test_postgresql_answers_the_visit_logs_path_range_from_the_index(app):
    add_visits_on_paths(app)
    staff = signed_in(app, app.test_client())
    [(statement, parameters)] = statements_matching(
        app, [lambda: staff.get("/admin/visits?path=/checkout")], "count(", "FROM visit", "visit.path >="
    )
    with app.app_context():
        connection = db.session.connection()
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")  # the table is tiny; the question is "can it"
        plan = "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters))
    assert "Index Only Scan using ix_visit_path_time" in plan and "Index Cond: ((path >= '/checkout'" in plan, plan


@pytest.mark.only_database("sqlite")
def test_the_policy_page_never_reads_every_submission(app, client):
    with app.app_context():
        db.session.add_all(
            submission(kind, email=f"p{n}@example.org", no_share=n % 3 == 0)
            for n, kind in enumerate(["survey", "contact", "board", "newsletter"] * 5)
        )
        db.session.commit()

    caught = statements_matching(app, [lambda: client.get("/privacy")], "FROM submission")

    plans = [query_plan(app, statement, parameters) for statement, parameters in caught]
    assert plans
    for (statement, _), plan in zip(caught, plans, strict=True):
        assert not any(line.split()[:2] == ["SCAN", "submission"] for line in plan.splitlines()), (statement, plan)
    assert any("COVERING INDEX ix_submission_share_candidates" in plan for plan in plans), plans
