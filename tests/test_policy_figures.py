"""The policy page's figures over every submission equal a count of the rows, whatever changed them.

They are read from the per-form tallies (``submission_tally``), which triggers on the submission
table keep in the statement that changes a row: a submission made through a form, an erasure by
address, a browser forgotten, and changes made in SQL all move them as a count would.
"""

import re

from sqlalchemy import func, select, text

from tests.support.forms import FORMS, send
from tests.support.my_data import JANE, open_access, post_on_everything
from tests.support.pages import acknowledge_banner, csrf_token_from, element_text
from webshop.db import db
from webshop.models import Submission, SubmissionTally
from webshop.stats import opt_outs_by_kind
from webshop.submissions import FORM_KINDS

SURVEY = next(case for case in FORMS if case.kind == "survey")


def figures(client) -> dict[str, str]:
    """What the policy page says about every form's submissions, and how many carry an address."""
    page = client.get("/privacy").get_data(as_text=True)
    found = {kind: element_text(page, f"opt-out-{kind}") for kind in FORM_KINDS}
    found["with address"] = re.match(r"\d+", element_text(page, "evidence-other-sources")).group(0)
    return found


def tallies(app) -> dict[str, tuple[int, int, int, int]]:
    with app.app_context():
        rows = db.session.execute(select(SubmissionTally)).scalars().all()
        return {t.kind: (t.held, t.no_marketing, t.no_share, t.with_address) for t in rows if t.held}


def live_counts(app) -> dict[str, tuple[int, int, int, int]]:
    """The same figures counted from the rows now."""
    with app.app_context():
        with_address = dict(
            db.session.execute(
                select(Submission.kind, func.count())
                .where(Submission.erased_at.is_(None), Submission.email.is_not(None))
                .group_by(Submission.kind)
            ).all()
        )
        return {
            kind: (o.count, o.no_marketing, o.no_share, with_address.get(kind, 0))
            for kind, o in opt_outs_by_kind().items()
        }


def test_a_submission_moves_the_policy_pages_figures_and_its_erasure_takes_it_out_again(app, client):
    acknowledge_banner(client)
    before = figures(client)
    assert before["survey"] == "Customer survey 0 0 (0.0 %) 0 (0.0 %)" and before["with address"] == "0"

    assert send(client, app, SURVEY, no_share="y").status_code == 303
    after = figures(client)
    assert after["survey"] == "Customer survey 1 0 (0.0 %) 1 (100.0 %)"
    assert after["with address"] == "1"
    assert {k: v for k, v in after.items() if k not in ("survey", "with address")} == {
        k: v for k, v in before.items() if k not in ("survey", "with address")
    }

    open_access(client, app, JANE)
    erased = post_on_everything(client, "/my-data/email/erase", {"confirm": "y"})
    assert erased.status_code == 303
    assert figures(client) == before


def forget_this_browser(client):
    token = csrf_token_from(client.get("/my-data").get_data(as_text=True))
    assert client.post("/my-data/browser/forget", data={"csrf_token": token}).status_code == 200
    assert client.post("/my-data/browser/forget/confirm", data={"csrf_token": token}).status_code == 303


def test_the_tallies_equal_a_live_count_after_a_mix_of_actions(app, client):
    acknowledge_banner(client)
    for number, case in enumerate(FORMS):  # Jane sends every form, with every mix of boxes
        boxes = {"no_marketing": "y" if number % 2 else None, "no_share": "y" if number % 3 == 0 else None}
        assert send(client, app, case, **boxes).status_code == 303, case.kind
    other = app.test_client()  # another browser: no address, a blocking signal, its own boxes
    acknowledge_banner(other)
    assert send(other, app, SURVEY, email=None, no_marketing="y").status_code == 303
    assert send(other, app, SURVEY, email="bob@example.org", headers={"Sec-GPC": "1"}).status_code == 303
    chat = next(case for case in FORMS if case.kind == "chat")
    assert send(other, app, chat, email="bob@example.org").status_code == 303
    assert tallies(app) == live_counts(app)

    open_access(client, app, JANE)  # Jane erases everything under her address
    assert post_on_everything(client, "/my-data/email/erase", {"confirm": "y"}).status_code == 303
    assert tallies(app) == live_counts(app)
    assert send(client, app, SURVEY, email="jane.again@example.org").status_code == 303

    with app.app_context():  # an operator's changes in SQL
        db.session.execute(text("UPDATE submission SET no_share = NOT no_share WHERE kind = 'survey'"))
        db.session.execute(text("UPDATE submission SET kind = 'contact' WHERE kind = 'chat'"))
        db.session.execute(
            text("DELETE FROM submission WHERE kind = 'survey' AND email IS NULL")  # nothing else refers to it
        )
        db.session.commit()
    assert tallies(app) == live_counts(app)

    forget_this_browser(other)  # the other browser is forgotten
    live = live_counts(app)
    assert tallies(app) == live
    page = figures(client)
    for kind, (held, no_marketing, no_share, _) in live.items():
        shown = re.search(r"(\d+) (\d+) \(\S+ %\) (\d+) \(\S+ %\)$", page[kind]).groups()
        assert shown == (str(held), str(no_marketing), str(no_share)), (kind, page[kind])
    assert page["with address"] == str(sum(counts[3] for counts in live.values()))
