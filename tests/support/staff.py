"""What the staff tests share: accounts, signing in, recipients and exports, and rows made by hand."""

import uuid
from datetime import datetime

from werkzeug.security import generate_password_hash

from tests.support.pages import submit
from webshop.db import db
from webshop.models import Recipient, StaffUser, Submission, Visit

PASSWORD = "a long staff password"


def create_staff(app, name="alice", password=PASSWORD) -> None:
    with app.app_context():
        # A cheap hash method keeps the suite fast; the CLI uses werkzeug's default.
        db.session.add(
            StaffUser(name=name, password_hash=generate_password_hash(password, method="pbkdf2:sha256:1000"))
        )
        db.session.commit()


def sign_in(client, name="alice", password=PASSWORD, **kwargs):
    return submit(client, "/admin/login", {"name": name, "password": password}, **kwargs)


def signed_in(app, client, name="alice"):
    create_staff(app, name)
    response = sign_in(client, name)
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


def add_recipient(app, name="Partner Co") -> int:
    """A recipient staff may export to; its id."""
    with app.app_context():
        recipient = Recipient(name=name, kind=Recipient.AFFILIATE)
        db.session.add(recipient)
        db.session.commit()
        return recipient.id


def web_export(client, recipient_id, purpose="Spring offers", fmt="json"):
    """Export to ``recipient_id`` from the staff export page, signed in as ``client``; the download."""
    response = submit(client, "/admin/export", {"recipient": str(recipient_id), "purpose": purpose, "format": fmt})
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert response.headers["Content-Disposition"].startswith("attachment;")
    return response


def visit(
    time: datetime,
    path: str = "/",
    *,
    method: str = "GET",
    status: int = 200,
    ip: str | None = "192.0.2.1",
    domain: str | None = None,
    confirmed: bool = False,
    visitor: str | None = None,
    blocking: bool = False,
) -> Visit:
    return Visit(
        uid=uuid.uuid4().hex,
        time=time,
        ip=None if blocking else ip,
        domain=None if blocking else domain,
        domain_confirmed=confirmed,
        method=method,
        path=path,
        query="",
        status=status,
        response_ms=1.0,
        visitor_id=None if blocking else visitor,
        blocking_signal=blocking,
    )


def submission(kind: str, email: str | None = "someone@example.org", **values) -> Submission:
    return Submission(
        kind=kind,
        email=email,
        name=values.pop("name", None),
        fields=values.pop("fields", {}),
        policy_version="test",
        **values,
    )
