"""The pages that list one visitor's visits read them in order from an index, however many the visitor has.

The statements are the ones the pages really run, caught as they run, and
SQLite's EXPLAIN QUERY PLAN says how it reads them: through
``ix_visit_visitor_time``, with no sort of the visitor's visits.
"""

from datetime import timedelta

import pytest
from sqlalchemy import event

from tests.support.pages import acknowledge_banner
from tests.support.staff import signed_in, visit
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
