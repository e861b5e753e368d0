"""The visit log browser and the visitor profile: a visitor id's visits, addresses and submissions."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from flask import abort, render_template, request
from sqlalchemy import and_, func

from ..db import db
from ..models import Submission, Visit, audit
from .auth import bp, staff_actor
from .dashboard import parse_day

PER_PAGE = 50
MAX_PAGE = 10_000
# The log counts the visits that match up to this many; beyond it the page says "more than".
# Counting every match of a loose filter would read most of the log on every page.
COUNT_LIMIT = 10_000
PROFILE_VISITS = 200
# Columns the log may be sorted by: the name in the URL and the column.
SORTABLE = {
    "time": Visit.time,
    "ip": Visit.ip,
    "domain": Visit.domain,
    "method": Visit.method,
    "path": Visit.path,
    "status": Visit.status,
    "visitor": Visit.visitor_id,
}
FILTERS = ("from", "to", "ip", "domain", "path", "visitor")


LAST_CHARACTER = chr(0x10FFFF)
SURROGATES = range(0xD800, 0xE000)  # never in a stored string: no UTF-8 encoding


def after_prefix(prefix: str) -> str | None:
    """The first string, in code point order, above every string that starts with ``prefix``.

    ``prefix`` with its last character raised by one, skipping the surrogates; trailing characters
    that cannot be raised (U+10FFFF) are dropped first. None when nothing is above them all.
    """
    stem = prefix.rstrip(LAST_CHARACTER)
    if not stem:
        return None
    raised = ord(stem[-1]) + 1
    return stem[:-1] + chr(SURROGATES.stop if raised in SURROGATES else raised)


def path_starts_with(prefix: str):
    """Visits whose path starts with exactly ``prefix``, as one range of ``ix_visit_path_time``.

    Both databases compare paths by code point (SQLite's BINARY, PostgreSQL's "C" collation on the
    column), so the range holds exactly the paths with that prefix: case counts, as in a URL, and
    ``%``, ``_`` and ``\\`` are characters like any other.
    """
    above = after_prefix(prefix)
    return Visit.path >= prefix if above is None else and_(Visit.path >= prefix, Visit.path < above)


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def visit_filters(args) -> tuple[list, dict, list[str]]:
    """Conditions from the query string, the values kept for the form, and any problems."""
    conditions, kept, problems = [], {}, []
    for name in FILTERS:
        kept[name] = args.get(name, "").strip()[:200]
    for name, label in (("from", "start"), ("to", "end")):
        if kept[name]:
            try:
                day = parse_day(kept[name], label)
            except ValueError as error:
                problems.append(str(error))
                continue
            if name == "from":
                conditions.append(Visit.time >= datetime.combine(day, time.min))
            else:
                conditions.append(Visit.time < datetime.combine(day + timedelta(days=1), time.min))
    if kept["ip"]:
        conditions.append(Visit.ip == kept["ip"])
    if kept["domain"]:
        conditions.append(Visit.domain.ilike(f"%{escape_like(kept['domain'])}%", escape="\\"))
    if kept["path"]:
        conditions.append(path_starts_with(kept["path"]))
    if kept["visitor"]:
        conditions.append(Visit.visitor_id == kept["visitor"])
    return conditions, kept, problems


@dataclass(frozen=True)
class LogPage:
    """One page of the visit log, with the matches counted up to :data:`COUNT_LIMIT`."""

    items: list[Visit]
    page: int
    counted: int  # matches counted, at most COUNT_LIMIT
    more: bool  # more than COUNT_LIMIT match
    has_next: bool

    @property
    def pages(self) -> int | None:
        """How many pages there are; None when more than :data:`COUNT_LIMIT` visits match."""
        return None if self.more else max(1, -(-self.counted // PER_PAGE))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def log_page(conditions, order, page: int) -> LogPage:
    """Page ``page`` of the visits matching ``conditions`` in ``order``, one row more than shown to know whether
    another page follows.

    The page's ids are picked first and only their rows read: picking them sorts what an index holds
    (the time and id of each visit on a path, for a path filter), not every matching row.
    """
    picked = db.select(Visit.id).where(*conditions).order_by(*order).limit(PER_PAGE + 1).offset((page - 1) * PER_PAGE)
    rows = db.session.execute(db.select(Visit).where(Visit.id.in_(picked)).order_by(*order)).scalars().all()
    counted = db.session.execute(
        db.select(func.count()).select_from(db.select(Visit.id).where(*conditions).limit(COUNT_LIMIT + 1).subquery())
    ).scalar_one()
    return LogPage(rows[:PER_PAGE], page, min(counted, COUNT_LIMIT), counted > COUNT_LIMIT, len(rows) > PER_PAGE)


@bp.get("/visits")
def visit_log():
    conditions, kept, problems = visit_filters(request.args)
    sort = request.args.get("sort", "time")
    if sort not in SORTABLE:
        sort = "time"
    direction = "asc" if request.args.get("dir") == "asc" else "desc"
    column = SORTABLE[sort]
    order = [column.asc() if direction == "asc" else column.desc(), Visit.id.desc()]
    page = log_page(
        conditions,
        order,
        min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE),
    )
    audit(staff_actor(), "view_visit_log", page=page.page, rows=len(page.items))
    db.session.commit()
    return (
        render_template(
            "staff/visits.html",
            page=page,
            filters=kept,
            active={name: value for name, value in kept.items() if value},
            problems=problems,
            sort=sort,
            direction=direction,
            sortable=list(SORTABLE),
        ),
        400 if problems else 200,
    )


@bp.get("/visitors/<visitor_id>")
def visitor_profile(visitor_id):
    """Everything linked by one visitor id: visits, IP/domain history, submissions."""
    if len(visitor_id) > 64:
        abort(404)
    visits = (
        db.session.execute(
            db.select(Visit).where(Visit.visitor_id == visitor_id).order_by(Visit.time.desc()).limit(PROFILE_VISITS)
        )
        .scalars()
        .all()
    )
    visit_count = db.session.execute(
        db.select(func.count()).select_from(Visit).where(Visit.visitor_id == visitor_id)
    ).scalar_one()
    addresses = db.session.execute(
        db.select(
            Visit.ip, Visit.domain, Visit.domain_confirmed, func.min(Visit.time), func.max(Visit.time), func.count()
        )
        .where(Visit.visitor_id == visitor_id)
        .group_by(Visit.ip, Visit.domain, Visit.domain_confirmed)
        .order_by(func.min(Visit.time))
    ).all()
    submissions = (
        db.session.execute(
            db.select(Submission).where(Submission.visitor_id == visitor_id).order_by(Submission.created_at)
        )
        .scalars()
        .all()
    )
    if not visits and not submissions:
        abort(404)
    audit(
        staff_actor(),
        "view_visitor_profile",
        visits=visit_count,
        submission_ids=[s.id for s in submissions],
    )
    db.session.commit()
    return render_template(
        "staff/visitor.html",
        visitor_id=visitor_id,
        visits=visits,
        visit_count=visit_count,
        addresses=addresses,
        submissions=submissions,
        shown=PROFILE_VISITS,
    )
