"""A submission's domain name, when the reverse lookup answers after the submission was stored.

A submission records the domain name cached for its IP address at the
time (:func:`webshop.submissions.record_submission`). When that lookup was
still under way, the resolver's answer arrives later, on its own thread;
the visits wiring (:mod:`webshop.visits`) passes it here, and the
submissions of that address sent since then that still lack a domain get it.
"""

from datetime import datetime

from sqlalchemy import update

from .db import db
from .models import Submission


def fill_domain(app, ip: str, domain: str | None, confirmed: bool, since: datetime) -> None:
    """Give ``domain`` to the submissions from ``ip`` sent since ``since`` that have none."""
    if not domain:
        return
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(
            update(Submission)
            .where(Submission.ip == ip, Submission.domain.is_(None), Submission.created_at >= since)
            .values(domain=domain, domain_confirmed=confirmed)
        )
