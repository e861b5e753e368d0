"""Every page that carries personal data tells caches never to store it (``Cache-Control: no-store``).

Each case below makes the data its page shows through the real forms and
mailed links, then opens the page as the person it concerns would.
"""

import pytest
from sqlalchemy import select

from tests.support.forms import FORMS, send
from tests.support.my_data import (
    CHANGE_LINK,
    JANE,
    NEWSLETTER_LINK,
    access_path,
    mails_to,
    open_access,
    path_in,
    post_on_everything,
)
from tests.support.pages import acknowledge_banner
from tests.support.staff import signed_in
from webshop.db import db
from webshop.models import Submission, Subscription

CASES = {case.kind: case for case in FORMS}


def submitted(client, app, kind="contact") -> Submission:
    assert send(client, app, CASES[kind]).status_code == 303
    with app.app_context():
        found = (
            db.session.execute(select(Submission).where(Submission.kind == kind).order_by(Submission.id.desc()))
            .scalars()
            .first()
        )
        db.session.expunge(found)
        return found


def newsletter_confirm(client, app):
    send(client, app, CASES["newsletter"])
    return "GET", path_in(NEWSLETTER_LINK, mails_to(app, JANE, "Please confirm your newsletter subscription")[0])


def unsubscribe_token(client, app):
    send(client, app, CASES["newsletter"])
    with app.app_context():
        return db.session.execute(select(Subscription.unsubscribe_token)).scalar_one()


def thanks(client, app):
    return "GET", send(client, app, CASES["contact"]).headers["Location"]


def order(client, app):
    return "GET", send(client, app, CASES["order"]).headers["Location"]


def email_change(client, app):
    open_access(client, app)
    post_on_everything(client, "/my-data/email/address", {"new_email": "jane.new@example.org"})
    return "GET", path_in(CHANGE_LINK, mails_to(app, "jane.new@example.org", "Confirm your new email address")[0])


def linked_visits(client, app):
    acknowledge_banner(client)
    visitor_id = submitted(client, app).visitor_id
    open_access(client, app)
    return "GET", f"/my-data/email/visits/{visitor_id}"


def staff(path):
    def page(client, app):
        signed_in(app, client)
        if "VISITOR" in path:
            acknowledge_banner(client)
            return "GET", path.replace("VISITOR", submitted(client, app).visitor_id)
        submitted(client, app)
        return "GET", path

    return page


PAGES = {
    "receipt": lambda client, app: ("GET", f"/receipt/{submitted(client, app).receipt_id}"),
    "receipt json": lambda client, app: ("GET", f"/receipt/{submitted(client, app).receipt_id}.json"),
    "receipt jwt": lambda client, app: ("GET", f"/receipt/{submitted(client, app).receipt_id}.jwt"),
    "thanks": thanks,
    "newsletter confirm": newsletter_confirm,
    "unsubscribe page": lambda client, app: ("GET", f"/newsletter/unsubscribe/{unsubscribe_token(client, app)}"),
    "one-click unsubscribe": lambda client, app: ("POST", f"/newsletter/unsubscribe/{unsubscribe_token(client, app)}"),
    "order": order,
    "your data": lambda client, app: ("GET", "/my-data"),
    "your data link": lambda client, app: ("GET", access_path(client, app)),
    "everything under an address": lambda client, app: ("GET", open_access(client, app) and "/my-data/email"),
    "linked visits": linked_visits,
    "email change": email_change,
    "policy": lambda client, app: ("GET", "/privacy"),
    "tour": lambda client, app: ("GET", "/privacy/tour"),
    "cart": lambda client, app: ("GET", "/cart"),
    "staff dashboard": staff("/admin/"),
    "staff submissions": staff("/admin/submissions/contact"),
    "staff visits": staff("/admin/visits"),
    "staff visitor": staff("/admin/visitors/VISITOR"),
    "staff outbox": staff("/admin/outbox"),
}


@pytest.mark.parametrize("name", PAGES)
def test_pages_with_personal_data_are_never_stored_by_a_cache(client, app, name):
    method, path = PAGES[name](client, app)
    response = client.open(path, method=method)
    assert response.status_code == 200, (name, path)
    directives = {part.strip() for part in response.headers.get("Cache-Control", "").split(",")}
    assert "no-store" in directives, (name, response.headers.get("Cache-Control"))
