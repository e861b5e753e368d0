""" "Your data" as the owner of an address uses it: the mailed links, opening access, acting on everything."""

import re
from urllib.parse import urlsplit

from tests.support.forms import outbox
from tests.support.pages import csrf_token_from, press_button, submit
from webshop.db import db
from webshop.ledger import record_export
from webshop.models import Recipient
from webshop.rules import shareable_submissions

JANE = "jane@example.org"
ACCESS_LINK = re.compile(r"https?://[^\s]+/my-data/open/[^\s]+")
CHANGE_LINK = re.compile(r"https?://[^\s]+/my-data/email-change/[^\s]+")
NEWSLETTER_LINK = re.compile(r"https?://[^\s]+/newsletter/confirm/[^\s]+")


def mails_to(app, email, subject=None):
    """Mail to ``email``, newest first."""
    return [m for m in outbox(app) if m.to == email and (subject is None or m.subject == subject)]


def path_in(pattern, entry) -> str:
    return urlsplit(pattern.search(entry.text).group(0)).path


def newest_link(app, email, pattern) -> str:
    """The path of the newest link matching ``pattern`` in mail to ``email``."""
    for entry in mails_to(app, email):
        if pattern.search(entry.text):
            return path_in(pattern, entry)
    raise AssertionError(f"no such link mailed to {email}")


def request_link(client, email):
    return submit(client, "/my-data", {"email": email}, action="/my-data/link")


def access_path(client, app, email=JANE) -> str:
    """Ask for the link to "your data" for ``email``; the path of the link mailed."""
    assert request_link(client, email).status_code == 303
    return newest_link(app, email, ACCESS_LINK)


def open_access(client, app, email=JANE):
    """Follow the mailed link and press its button: "your data" is open for ``email`` in this browser."""
    response = press_button(client, access_path(client, app, email))
    assert response.status_code == 303 and response.headers["Location"] == "/my-data/email"
    return client.get("/my-data/email")


def post_on_everything(client, action, data):
    """Post to one of the "everything under this address" actions with the open page's CSRF token."""
    page = client.get("/my-data/email")
    assert page.status_code == 200
    return client.post(action, data={"csrf_token": csrf_token_from(page.get_data(as_text=True)), **data})


def share_all(app, recipient_name="Partner Marketing Ltd") -> list[int]:
    """A staff export of everything shareable to one recipient, written to the ledger; the ids shared."""
    with app.app_context():
        recipient = Recipient(name=recipient_name, kind=Recipient.THIRD_PARTY)
        db.session.add(recipient)
        shared = db.session.execute(shareable_submissions()).scalars().all()
        record_export(recipient, "Their spring campaign", "staffer", shared)
        db.session.commit()
        return [s.id for s in shared]
