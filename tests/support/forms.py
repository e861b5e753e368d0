"""What the form tests share: each personal-information form, good data for it, and readers."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from tests.support.cart import add_to_cart, product_id
from tests.support.pages import submit
from webshop.db import db
from webshop.mail import outbox_messages
from webshop.models import Submission


@dataclass(frozen=True)
class FormCase:
    url: str
    kind: str
    good: dict
    email_field: str | None = "email"
    needs_cart: bool = False
    extra: dict = field(default_factory=dict)

    def __str__(self):
        return self.kind


def purchase_day() -> str:
    return (date.today() - timedelta(days=30)).isoformat()


FORMS = [
    FormCase("/newsletter", "newsletter", {"email": "jane@example.org", "topics": ["offers", "guides"]}),
    FormCase(
        "/survey",
        "survey",
        {
            "rating": "4",
            "shopped_for": ["audio", "cameras"],
            "found_us": "friend",
            "improve": "More cables in stock.",
            "email": "jane@example.org",
        },
    ),
    FormCase(
        "/register",
        "registration",
        {
            "product": "PRODUCT",  # replaced with a real id by form_data()
            "serial_number": "SN-12345",
            "purchase_date": "PURCHASE_DATE",
            "name": "Jane Doe",
            "email": "jane@example.org",
        },
    ),
    FormCase(
        "/contact",
        "contact",
        {
            "name": "Jane Doe",
            "email": "jane@example.org",
            "subject": "A question",
            "message": "Do you ship to Mars?",
        },
    ),
    FormCase("/board", "board", {"display_name": "Jane", "email": "jane@example.org", "message": "Great shop!"}),
    FormCase("/chat", "chat", {"display_name": "Jane", "message": "Hello, room!", "email": "jane@example.org"}),
    FormCase(
        "/checkout",
        "order",
        {"name": "Jane Doe", "email": "jane@example.org", "address": "1 Loopback Lane, Localhost"},
        needs_cart=True,
    ),
]
FORM_IDS = [case.kind for case in FORMS]


def form_data(app, case: FormCase, **changes) -> dict:
    data = dict(case.good)
    if data.get("product") == "PRODUCT":
        data["product"] = str(product_id(app))
    if data.get("purchase_date") == "PURCHASE_DATE":
        data["purchase_date"] = purchase_day()
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def send(client, app, case: FormCase, **changes):
    """Post ``case``'s form with good data changed by ``changes`` (None removes a field)."""
    if case.needs_cart:
        add_to_cart(client, app)
    headers = changes.pop("headers", None)
    return submit(client, case.url, form_data(app, case, **changes), headers=headers)


def sign_up(client, app, **changes):
    """Sign up for the newsletter with good data changed by ``changes``; the form was accepted."""
    response = send(client, app, next(case for case in FORMS if case.kind == "newsletter"), **changes)
    assert response.status_code == 303
    return response


def submissions(app, kind: str | None = None) -> list[Submission]:
    with app.app_context():
        query = db.select(Submission).order_by(Submission.id)
        if kind:
            query = query.where(Submission.kind == kind)
        found = db.session.execute(query).scalars().all()
        db.session.expunge_all()
        return found


def outbox(app):
    with app.app_context():
        return outbox_messages()
