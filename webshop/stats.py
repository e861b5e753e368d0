"""Figures the policy page and the dashboard both show: counting helpers and the opt-out rates."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, case, func, select

from .db import db
from .models import Submission, SubmissionDayTally, SubmissionTally


def count_if(condition: ColumnElement[bool]):
    """SQL: how many rows ``condition`` holds for (0, not NULL, when there are none)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def percent(part: int, whole: int) -> float:
    """``part`` as a percentage of ``whole``, to one decimal, as every page shows it (0 of nothing)."""
    return round(100 * part / whole, 1) if whole else 0.0


@dataclass(frozen=True)
class OptOuts:
    """One form's submissions held, and how many of them ticked each opt-out box."""

    kind: str
    count: int = 0
    no_marketing: int = 0
    no_share: int = 0

    @property
    def no_marketing_percent(self) -> float:
        return percent(self.no_marketing, self.count)

    @property
    def no_share_percent(self) -> float:
        return percent(self.no_share, self.count)


def opt_outs_by_kind(*where: ColumnElement[bool]) -> dict[str, OptOuts]:
    """Per form kind, the submissions held (not erased) that match ``where``, and their opt-outs; one query."""
    rows = db.session.execute(
        select(
            Submission.kind,
            func.count(),
            count_if(Submission.no_marketing.is_(True)),
            count_if(Submission.no_share.is_(True)),
        )
        .where(Submission.erased_at.is_(None), *where)
        .group_by(Submission.kind)
    ).all()
    return {kind: OptOuts(kind, *counts) for kind, *counts in rows}


def opt_outs_held() -> dict[str, OptOuts]:
    """Per form kind, every submission held and their opt-outs: :func:`opt_outs_by_kind` with no condition.

    Read from the per-form tallies, which triggers keep equal to the count of the rows, so
    the figure costs the same however many submissions there are.
    """
    rows = db.session.execute(
        select(SubmissionTally.kind, SubmissionTally.held, SubmissionTally.no_marketing, SubmissionTally.no_share)
    ).all()
    return {kind: OptOuts(kind, *counts) for kind, *counts in rows}


def opt_outs_between(first: date, last: date) -> dict[str, OptOuts]:
    """Per form kind, the submissions held that were made on the days ``first`` to ``last`` (UTC), and their
    opt-outs: :func:`opt_outs_by_kind` over those days, added up from the per-day tallies the triggers keep."""
    rows = db.session.execute(
        select(
            SubmissionDayTally.kind,
            func.sum(SubmissionDayTally.held),
            func.sum(SubmissionDayTally.no_marketing),
            func.sum(SubmissionDayTally.no_share),
        )
        .where(SubmissionDayTally.day.between(first, last))
        .group_by(SubmissionDayTally.kind)
        .having(func.sum(SubmissionDayTally.held) > 0)
    ).all()
    return {kind: OptOuts(kind, *counts) for kind, *counts in rows}


def held_with_address() -> int:
    """How many submissions held (not erased) carry an email address, from the per-form tallies."""
    return db.session.execute(select(func.coalesce(func.sum(SubmissionTally.with_address), 0))).scalar_one()


def lock_tallies(kinds) -> None:
    """Lock these forms' tallies, always in the same order, before changing many submissions at once.

    The triggers change a form's tally row with each submission changed; two erasures reaching the
    same forms' rows in opposite orders would each wait for the other on PostgreSQL. (SQLite has one
    writer at a time, and no row locks to take.)
    """
    db.session.execute(
        select(SubmissionTally.kind)
        .where(SubmissionTally.kind.in_(sorted(kinds)))
        .order_by(SubmissionTally.kind)
        .with_for_update()
    ).all()
