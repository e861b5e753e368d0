"""The dashboard's opt-out rates over a period equal a count of that period's submissions, whatever changed them.

They are added up from ``submission_day_tally``, per day and form, which triggers on the submission table
keep in the statement that changes a row, as they keep the policy page's per-form tallies.
"""

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select, text

from tests.support.staff import signed_in, submission
from tests.test_daily_figures import rows
from webshop.db import db
from webshop.models import Submission, SubmissionDayTally, utcnow
from webshop.privacy.holdings import erase
from webshop.stats import opt_outs_by_kind
from webshop.submissions import FORM_KINDS


@pytest.fixture
def app_config():
    return {"VISITS_ENABLED": False}


def day(days_ago: int, hour: int = 12) -> datetime:
    return datetime.combine(utcnow().date() - timedelta(days=days_ago), time(hour))


PERIODS = {"default": "/admin/", "one day": f"/admin/?from={day(3).date()}&to={day(3).date()}"}


def shown(client) -> dict[str, dict[str, list[str]]]:
    """Per period, the opt-out table's row of every form that has any submission in it."""
    found = {}
    for name, url in PERIODS.items():
        table = rows(client.get(url).get_data(as_text=True), "table-optouts")
        found[name] = {r[0]: r[1:] for r in table if r[1] != "0"}
    return found


def counted(app) -> dict[str, dict[str, list[str]]]:
    """The same table counted from the submissions now."""
    labels = {kind: form.service for kind, form in FORM_KINDS.items()}
    periods = {"default": (day(29, 0), day(-1, 0)), "one day": (day(3, 0), day(2, 0))}
    found = {}
    with app.app_context():
        for name, (start, end) in periods.items():
            found[name] = {
                labels.get(o.kind, o.kind): [
                    str(o.count),
                    f"{o.no_marketing} ({o.no_marketing_percent:.1f} %)",
                    f"{o.no_share} ({o.no_share_percent:.1f} %)",
                ]
                for o in opt_outs_by_kind(Submission.created_at >= start, Submission.created_at < end).values()
            }
    return found


def test_the_opt_out_rates_of_a_period_follow_every_change_to_its_submissions(app, client):
    signed_in(app, client)
    with app.app_context():
        db.session.add_all(
            [
                submission("survey", "a@example.org", created_at=day(3, 0)),  # the day's first moment
                submission("survey", "b@example.org", no_marketing=True, created_at=day(3, 23)),
                submission("survey", "c@example.org", no_share=True, created_at=day(2)),
                submission("contact", "gone@example.org", no_marketing=True, no_share=True, created_at=day(3)),
                submission("contact", "d@example.org", created_at=utcnow()),
                submission("order", "e@example.org", no_share=True, created_at=day(40)),  # before the period
                submission("order", "f@example.org", created_at=day(30, 23)),  # the evening before it
                submission("board", None, no_marketing=True, erased_at=day(3), created_at=day(3)),
            ]
        )
        db.session.commit()
    before = shown(client)
    assert before == counted(app)
    assert before["one day"] == {
        FORM_KINDS["survey"].service: ["2", "1 (50.0 %)", "0 (0.0 %)"],
        FORM_KINDS["contact"].service: ["1", "1 (100.0 %)", "1 (100.0 %)"],
    }

    changes = [
        "UPDATE submission SET no_share = NOT no_share WHERE kind = 'survey'",
        "UPDATE submission SET no_marketing = no_marketing WHERE 1 = 0",  # a statement that changes nothing
        "UPDATE submission SET kind = 'chat' WHERE email = 'b@example.org'",
    ]
    with app.app_context():
        for change in changes:
            db.session.execute(text(change))
        moved = db.session.scalar(select(Submission).where(Submission.email == "e@example.org"))
        moved.created_at = day(3, 6)  # from before the period into the day
        db.session.commit()
    after = shown(client)
    assert after == counted(app) and after != before
    assert after["one day"][FORM_KINDS["order"].service] == ["1", "0 (0.0 %)", "1 (100.0 %)"]

    with app.test_request_context():
        erase("gone@example.org")
    with app.app_context():
        db.session.execute(text("DELETE FROM submission WHERE email = 'a@example.org'"))
        db.session.commit()
    erased = shown(client)
    assert erased == counted(app)
    assert FORM_KINDS["contact"].service not in erased["one day"]
    assert FORM_KINDS["survey"].service not in erased["one day"]
    assert erased["one day"][FORM_KINDS["chat"].service] == ["1", "1 (100.0 %)", "1 (100.0 %)"]
    with app.app_context():  # a tally row per day and form, never below zero
        assert min(db.session.scalars(select(SubmissionDayTally.held))) >= 0
