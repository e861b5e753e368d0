"""Only whoever proved an address decides what happens to it: sharing, marketing, visits, evidence.

Each attack is made as a stranger would make it: another browser, no
cookies, someone else's address typed into the public forms. The proof
that counts is the link mailed for that very submission (followed from the
outbox, as the owner would), or "your data" open for the address in the
browser that sends it.
"""

import html
import json
import re

import pytest
from sqlalchemy import select

from tests.support.forms import FORMS, send, sign_up
from tests.support.my_data import NEWSLETTER_LINK, newest_link, open_access
from tests.support.pages import acknowledge_banner, csrf_token_from, press_button
from tests.support.staff import add_recipient, signed_in, web_export
from webshop.db import db
from webshop.models import Submission, Subscription
from webshop.rules import mail_audience

VICTIM = "victim@example.org"
STRANGER_FORMS = ("newsletter", "survey", "registration")


def case(kind):
    return next(c for c in FORMS if c.kind == kind)


def confirm_newest_signup(client, app, email):
    """The address's owner follows the newest confirmation link mailed to it."""
    assert press_button(client, newest_link(app, email, NEWSLETTER_LINK)).status_code == 200


def stranger_posts(app, email, **environ):
    """A browser with no cookies types ``email`` into the newsletter, survey and registration forms."""
    stranger = app.test_client()
    stranger.environ_base.update(environ)
    for kind in STRANGER_FORMS:
        response = send(stranger, app, case(kind), email=email)
        assert response.status_code == 303, kind
    return stranger


def cli_export_emails(app) -> list[str]:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["share", "export", "--recipient", "Partner Co", "--format", "json"])
    assert result.exit_code == 0, result.output
    return [row["email"] for row in json.loads(result.stdout)["records"]]


def web_export_emails(app, recipient_id) -> list[str]:
    staff = signed_in(app, app.test_client())
    return [row["email"] for row in json.loads(web_export(staff, recipient_id).get_data(as_text=True))["records"]]


def audience_emails(app) -> list[str]:
    """Who may get mail on "offers", the topic every signup here chose."""
    with app.app_context():
        return [s.email for s in db.session.execute(mail_audience("offers")).scalars()]


def rows_under(app, email) -> list[Submission]:
    with app.app_context():
        found = (
            db.session.execute(select(Submission).where(Submission.email == email).order_by(Submission.id))
            .scalars()
            .all()
        )
        db.session.expunge_all()
        return found


# --- Sharing and marketing -------------------------------------------------------------------------


class TestSharingNeedsProofOfThatSubmission:
    @pytest.fixture
    def app_config(self):
        return {"VISITS_ENABLED": False}

    def test_a_stranger_cannot_make_a_confirmed_address_shareable(self, app, client):
        recipient_id = add_recipient(app)
        sign_up(client, app, email=VICTIM, no_share="y", no_marketing="y")
        confirm_newest_signup(client, app, VICTIM)
        [own_signup] = rows_under(app, VICTIM)

        stranger_posts(app, VICTIM)  # no boxes ticked anywhere

        assert VICTIM not in cli_export_emails(app)
        assert VICTIM not in web_export_emails(app, recipient_id)
        assert VICTIM not in audience_emails(app)
        with app.app_context():  # the confirmed subscription keeps the choices it was confirmed with
            subscription = db.session.execute(select(Subscription).where(Subscription.email == VICTIM)).scalar_one()
            assert (subscription.status, subscription.submission_id) == (Subscription.CONFIRMED, own_signup.id)
        assert [s.proven_at is not None for s in rows_under(app, VICTIM)] == [True, False, False, False]

    def test_a_signup_whose_own_link_was_followed_is_shared_and_mailed(self, app, client):
        add_recipient(app)
        sign_up(client, app, email=VICTIM)
        assert VICTIM not in cli_export_emails(app)  # pending: its link was not followed yet
        confirm_newest_signup(client, app, VICTIM)
        assert cli_export_emails(app) == [VICTIM]
        assert audience_emails(app) == [VICTIM]

    def test_a_later_signup_is_pending_until_its_own_link_is_followed(self, app, client):
        add_recipient(app)
        sign_up(client, app, email=VICTIM, no_marketing="y", no_share="y")
        confirm_newest_signup(client, app, VICTIM)
        stranger_posts(app, VICTIM)
        assert audience_emails(app) == [] and cli_export_emails(app) == []
        # The owner reads the new mail and confirms that signup too: now it is theirs, with its choices.
        confirm_newest_signup(client, app, VICTIM)
        assert audience_emails(app) == [VICTIM]
        newsletter = [s for s in rows_under(app, VICTIM) if s.kind == "newsletter"]
        assert [s.proven_at is not None for s in newsletter] == [True, True]
        assert cli_export_emails(app) == [VICTIM]  # the newly confirmed signup; surveys stay out

    def test_what_is_sent_with_your_data_open_for_the_address_is_proven(self, app, client):
        add_recipient(app)
        open_access(client, app, VICTIM)
        for kind in ("survey", "registration"):
            assert send(client, app, case(kind), email=VICTIM).status_code == 303
        assert send(client, app, case("contact"), email="someone-else@example.org").status_code == 303
        assert cli_export_emails(app) == [VICTIM, VICTIM]
        proven = {s.email: s.proven_at is not None for s in all_submissions(app)}
        assert proven == {VICTIM: True, "someone-else@example.org": False}

    def test_opening_your_data_proves_what_that_browser_sent_and_nothing_else(self, app, client):
        add_recipient(app)
        acknowledge_banner(client)  # a visitor id links this browser's submissions
        assert send(client, app, case("survey"), email=VICTIM).status_code == 303
        stranger_posts(app, VICTIM)
        assert cli_export_emails(app) == []
        open_access(client, app, VICTIM)
        assert cli_export_emails(app) == [VICTIM]
        [proven] = [s for s in rows_under(app, VICTIM) if s.proven_at is not None]
        assert proven.kind == "survey" and proven.visitor_id


def all_submissions(app):
    with app.app_context():
        found = db.session.execute(select(Submission).order_by(Submission.id)).scalars().all()
        db.session.expunge_all()
        return found


# --- Visits ---------------------------------------------------------------------------------------


STRANGER = {"REMOTE_ADDR": "127.0.0.66", "HTTP_USER_AGENT": "StrangerBrowser/9.9 (typed-someone-else)"}


def test_a_strangers_visits_never_join_the_address_they_typed(app, client):
    acknowledge_banner(client)  # the owner's browser, with its own visits
    sign_up(client, app, email=VICTIM)
    confirm_newest_signup(client, app, VICTIM)

    stranger = app.test_client()
    stranger.environ_base.update(STRANGER)
    acknowledge_banner(stranger)
    assert stranger.get("/search?q=stranger-private-query").status_code == 200
    assert send(stranger, app, case("survey"), email=VICTIM).status_code == 303
    [_, survey] = rows_under(app, VICTIM)
    stranger_visitor, stranger_receipt = survey.visitor_id, survey.receipt_id
    assert stranger_visitor

    open_access(client, app, VICTIM)
    page = client.get("/my-data/email").get_data(as_text=True)
    download = client.get("/my-data/email/download").get_data(as_text=True)
    for leaked in ("127.0.0.66", "StrangerBrowser", "stranger-private-query", stranger_visitor, stranger_receipt):
        assert leaked not in page, leaked
        assert leaked not in download, leaked
    assert client.get(f"/my-data/email/visits/{stranger_visitor}").status_code == 404
    document = json.loads(download)
    assert len(document["submissions"]) == 2  # the stranger's survey is listed, without what came with it
    assert [s["addressProven"] for s in document["submissions"]] == [True, False]
    assert document["visits"]  # the owner's own visits are there
    assert "did not prove this address is theirs" in page


# --- The policy page ---------------------------------------------------------------------------------


def verdict_rows(page: str) -> list[str]:
    """This browser's records on /privacy, with what differs between any two signups blanked."""
    found = re.findall(r'<tr id="[a-z-]+-submission-\d+">(.*?)</tr>', page, re.S)
    blank = r"#\d+|\d{4}-\d\d-\d\d \d\d:\d\d|/receipt/[0-9a-f-]+"
    return [re.sub(blank, "_", html.unescape(" ".join(row.split()))) for row in found]


def test_the_policy_page_tells_a_stranger_nothing_about_another_address(app, client):
    # The victim confirmed and turned sharing and marketing off on "your data".
    acknowledge_banner(client)
    sign_up(client, app, email=VICTIM)
    confirm_newest_signup(client, app, VICTIM)
    open_access(client, app, VICTIM)
    token = csrf_token_from(client.get("/my-data/email").get_data(as_text=True))
    off = {"csrf_token": token, "sharing_off": "y", "marketing_off": "y"}
    assert client.post("/my-data/email/preferences", data=off).status_code == 303

    def stranger_view(email):
        fresh = app.test_client()
        acknowledge_banner(fresh)
        before = re.search(r'id="evidence-other-sources">\D*(\d+)', fresh.get("/privacy").get_data(as_text=True))
        sign_up(fresh, app, email=email)
        page = fresh.get("/privacy").get_data(as_text=True)
        after = re.search(r'id="evidence-other-sources">\D*(\d+)', page)
        return page, int(after.group(1)) - int(before.group(1))

    known, known_step = stranger_view(VICTIM)
    new, new_step = stranger_view("vanessa@example.org")  # masked the same: v***@example.org
    for page in (known, new):
        rows = " ".join(verdict_rows(page))
        assert "v***@example.org" in rows
        for secret in ("not confirmed", "unsubscribed", "turned sharing off", "turned marketing off"):
            assert secret not in rows, secret
    assert verdict_rows(known) == verdict_rows(new)
    assert known_step == new_step == 1
    # The owner, with "your data" open, does see what holds for their address.
    own = " ".join(verdict_rows(client.get("/privacy").get_data(as_text=True)))
    assert 'its address turned sharing off on "your data"' in own
