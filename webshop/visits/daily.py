"""The shop's visit figures per day: counted from the visit log, archived once a day has ended.

The staff dashboard adds up what the shop's visits (every path outside
``/admin``) come to over a period: visits, blocking signals, cart adds,
checkout views, pages viewed, confirmed domains, distinct visitor ids and
distinct IP addresses. Counting that from the visit log reads every visit of
the period, so, as Matomo archives its reports, each finished UTC day is
counted once (:func:`archive_day`, run by ``flask visits archive`` and by
the purge before it deletes anything) into the ``visit_day`` tables, and
:func:`period_figures` reads archived days from there and every other day
(today, a day never archived) from the visits themselves. Distinct visitors
and addresses over a period are counted over the union of the archived
days' ids and addresses and the live visits' ones, so they stay exact.

An archive stays true to the visit log:

- a visit stored later for an archived day (a spool replayed after a crash,
  a request that began before midnight) drops that day's archive
  (:func:`drop_days`, called by the visit writer): the day is counted from
  its visits until it is archived again;
- erasing a visitor takes what its visits added out of the archived days
  they fell on and deletes its ids and addresses from the archive
  (:func:`recounted`);
- the purge deletes the ids and addresses of every day it reaches and keeps
  the counts (:func:`forget_identities`), and shortens the archived addresses
  as it shortens the visits' (:func:`shorten_addresses`).
"""

from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import and_, bindparam, delete, false, func, insert, not_, or_, select, tuple_, union, update
from sqlalchemy.dialects import postgresql, sqlite
from werkzeug.exceptions import HTTPException

from ..db import db
from ..models import (
    Visit,
    VisitDay,
    VisitDayAddress,
    VisitDayDomain,
    VisitDayPage,
    VisitDayVisitor,
    VisitSpan,
    utcnow,
)
from ..shorten import truncated_ip
from ..stats import count_if

ARCHIVE_TABLES = (VisitDayPage, VisitDayDomain, VisitDayVisitor, VisitDayAddress, VisitDay)
# The dashboard's default period, today and the days before it: its finished days' distinct visitor ids
# and addresses are counted once, when they are archived (a VisitSpan), not at every view.
DEFAULT_DAYS = 30
# Archived addresses read and shortened per transaction by the purge.
SHORTEN_BATCH = 2000

# Requests the shop's own scripts make in the background (the chat polls
# every two seconds): recorded like every request, but not page views.
BACKGROUND_FEEDS = ("/chat/messages",)

# Pages whose variable part names something the shop has: answered with 200,
# the path names a real product, category or file and is shown as it is.
NAMED_PAGES = frozenset({"shop.product", "shop.category", "static"})

SERVED_PAGE = and_(Visit.method == "GET", Visit.status == 200, Visit.path.not_in(BACKGROUND_FEEDS))
CART_ADD = and_(Visit.method == "POST", Visit.path == "/cart/add", Visit.status < 400)
CHECKOUT_VIEW = and_(Visit.method == "GET", Visit.path == "/checkout", Visit.status == 200)
CONFIRMED_DOMAIN = and_(Visit.domain_confirmed.is_(True), Visit.domain.is_not(None))


def page_label(adapter, path: str) -> str | None:
    """What "top pages" calls ``path``: the path, its route's rule, or None when no route serves it as it is.

    A route with a free variable part (a token, an order number) is shown as
    its rule, ``/newsletter/confirm/<token>``, so that whatever a visitor put
    in the address never reaches the staff's screen.
    """
    try:
        rule, _ = adapter.match(path, method="GET", return_rule=True)
    except HTTPException:  # no such page, or only a redirect to one (a 308 for "//" or a missing slash)
        return None
    if not rule.arguments or rule.endpoint in NAMED_PAGES:
        return path
    return rule.rule


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min)


def as_date(value) -> date:
    """SQLite answers date() with a string, PostgreSQL with a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def shop_visits_between(start: datetime, end: datetime):
    """The conditions for visits to the shop (not its staff pages) from ``start`` until before ``end``."""
    return and_(Visit.time >= start, Visit.time < end, not_(Visit.path.startswith("/admin")))


def shop_visits_on(days: Iterable[date]):
    """The conditions for the shop's visits on ``days``, one time range per run of consecutive days."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    if not runs:
        return false()
    return or_(*(shop_visits_between(day_start(a), day_start(b + timedelta(days=1))) for a, b in runs))


def counted_totals(where) -> tuple[int, int, int, int]:
    """Visits, blocking signals, cart adds and checkout views among the visits ``where`` selects."""
    return tuple(
        db.session.execute(
            select(
                func.count(), count_if(Visit.blocking_signal.is_(True)), count_if(CART_ADD), count_if(CHECKOUT_VIEW)
            ).where(where)
        ).one()
    )


def counted_pages(where) -> dict[str, int]:
    """Views of the served pages among the visits ``where`` selects, per :func:`page_label`."""
    served = db.session.execute(select(Visit.path, func.count()).where(where, SERVED_PAGE).group_by(Visit.path)).all()
    adapter = current_app.url_map.bind("localhost")
    counts: dict[str, int] = {}
    for path, n in served:
        label = page_label(adapter, path)
        if label is not None:
            counts[label] = counts.get(label, 0) + n
    return counts


def counted_domains(where) -> dict[str, int]:
    """Visits per confirmed domain among the visits ``where`` selects."""
    return dict(
        db.session.execute(
            select(Visit.domain, func.count()).where(where, CONFIRMED_DOMAIN).group_by(Visit.domain)
        ).all()
    )


@dataclass
class DayFigures:
    """What one day's shop visits come to, with the ids and addresses behind the distinct counts."""

    visits: int = 0
    blocking: int = 0
    cart_adds: int = 0
    checkout_views: int = 0
    pages: dict[str, int] = field(default_factory=dict)
    domains: dict[str, int] = field(default_factory=dict)
    visitor_ids: set[str] = field(default_factory=set)
    ips: set[str] = field(default_factory=set)

    @classmethod
    def counted(cls, day: date) -> "DayFigures":
        """``day``'s figures counted from its visits."""
        where = shop_visits_on([day])
        visits, blocking, cart_adds, checkout_views = counted_totals(where)
        return cls(
            visits,
            blocking,
            cart_adds,
            checkout_views,
            counted_pages(where),
            counted_domains(where),
            set(db.session.scalars(select(Visit.visitor_id).where(where, Visit.visitor_id.is_not(None)).distinct())),
            set(db.session.scalars(select(Visit.ip).where(where, Visit.ip.is_not(None)).distinct())),
        )


# --- Writing the archive ---------------------------------------------------------------------------


# The key of the PostgreSQL advisory lock that orders the transactions writing the archive.
ARCHIVE_LOCK = 0x7765627368_0001


def hold_archive(conn) -> None:
    """Until the caller's transaction ends, no other transaction writes the archive.

    Archiving a day, a late visit dropping its day's archive and an erasure
    each read visits and then write the archive. Without this, on
    PostgreSQL, a late visit committed while its day is being archived
    finds no archive to drop, and the archive is then written without it;
    an erasure could likewise miss an archive being written. On SQLite a
    statement that writes nothing takes the database's one write lock, so
    the transaction never reads a state another writer changes before it
    writes (which SQLite would refuse as "database is locked").
    """
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(ARCHIVE_LOCK)))
    else:
        conn.execute(delete(VisitSpan.__table__).where(false()))


def drop_days(conn, days: Iterable[date]) -> None:
    """Delete every archive row of ``days`` on ``conn`` (the caller's transaction): they are counted live again."""
    hold_archive(conn)
    days = sorted(days)
    for model in ARCHIVE_TABLES:
        conn.execute(delete(model.__table__).where(model.__table__.c.day.in_(days)))
    conn.execute(delete(VisitSpan.__table__))


def finished_days(rows: list[dict]) -> set[date]:
    """The finished UTC days among the times of ``rows``: one comparison for a batch of today's visits."""
    today = day_start(utcnow().date())
    if not rows or min(row["time"] for row in rows) >= today:
        return set()
    return {row["time"].date() for row in rows if row["time"] < today}


def archive_day(day: date) -> DayFigures:
    """Count ``day`` from its visits into the archive, replacing whatever was there, in one transaction."""
    # Deleting first takes SQLite's write lock: a visit stored for the day meanwhile waits, then drops this archive.
    drop_days(db.session.connection(), [day])
    figures = DayFigures.counted(day)
    db.session.add(
        VisitDay(
            day=day,
            visits=figures.visits,
            blocking=figures.blocking,
            cart_adds=figures.cart_adds,
            checkout_views=figures.checkout_views,
            visitors=len(figures.visitor_ids),
            ips=len(figures.ips),
            archived_at=utcnow(),
        )
    )
    db.session.flush()
    execute = db.session.execute
    if figures.pages:
        execute(insert(VisitDayPage), [{"day": day, "label": k, "views": n} for k, n in figures.pages.items()])
    if figures.domains:
        execute(insert(VisitDayDomain), [{"day": day, "domain": k, "visits": n} for k, n in figures.domains.items()])
    if figures.visitor_ids:
        execute(insert(VisitDayVisitor), [{"day": day, "visitor_id": v} for v in sorted(figures.visitor_ids)])
    if figures.ips:
        execute(insert(VisitDayAddress), [{"day": day, "ip": ip} for ip in sorted(figures.ips)])
    db.session.commit()
    return figures


def archive_finished_days() -> list[date]:
    """Archive every finished day since the oldest stored visit that has no archive yet; the days archived."""
    oldest = db.session.scalar(select(func.min(Visit.time)))
    if oldest is None:
        return []
    yesterday = utcnow().date() - timedelta(days=1)
    done = set(db.session.scalars(select(VisitDay.day).where(VisitDay.day >= oldest.date())))
    days = [day for day in days_between(oldest.date(), yesterday) if day not in done]
    for day in days:
        archive_day(day)
    count_default_span()
    return days


def count_default_span() -> None:
    """Count the distinct visitor ids and addresses of the default period's finished days, if all are archived."""
    hold_archive(db.session.connection())
    last = utcnow().date() - timedelta(days=1)
    first = last - timedelta(days=DEFAULT_DAYS - 2)
    held = db.session.scalar(select(func.count()).select_from(VisitDay).where(VisitDay.day.between(first, last)))
    if held != DEFAULT_DAYS - 1 or db.session.get(VisitSpan, (first, last)):
        return
    visitors, ips = (
        db.session.scalar(select(func.count(column.distinct())).where(model.day.between(first, last)))
        for model, column in ((VisitDayVisitor, VisitDayVisitor.visitor_id), (VisitDayAddress, VisitDayAddress.ip))
    )
    db.session.add(VisitSpan(first=first, last=last, visitors=visitors, ips=ips))
    db.session.commit()


def added_by(visitor_ids: list[str]) -> dict[date, DayFigures]:
    """Per archived day, what the shop visits of ``visitor_ids`` added to its figures.

    Read from their visits alone, grouped by day, through the visitor index:
    however busy the visitor, no whole day is counted again.
    """
    theirs = and_(Visit.visitor_id.in_(visitor_ids), not_(Visit.path.startswith("/admin")))
    day = func.date(Visit.time)
    execute = db.session.execute
    added: dict[date, DayFigures] = {}
    for d, *totals in execute(
        select(
            day, func.count(), count_if(Visit.blocking_signal.is_(True)), count_if(CART_ADD), count_if(CHECKOUT_VIEW)
        )
        .where(theirs)
        .group_by(day)
    ).all():
        added[as_date(d)] = DayFigures(*totals)
    archived = set(db.session.scalars(select(VisitDay.day).where(VisitDay.day.in_(sorted(added))))) if added else set()
    added = {d: figures for d, figures in added.items() if d in archived}
    if not added:
        return added
    adapter = current_app.url_map.bind("localhost")
    for d, path, n in execute(
        select(day, Visit.path, func.count()).where(theirs, SERVED_PAGE).group_by(day, Visit.path)
    ):
        if as_date(d) in added and (label := page_label(adapter, path)) is not None:
            pages = added[as_date(d)].pages
            pages[label] = pages.get(label, 0) + n
    for d, domain, n in execute(
        select(day, Visit.domain, func.count()).where(theirs, CONFIRMED_DOMAIN).group_by(day, Visit.domain)
    ):
        if as_date(d) in added:
            added[as_date(d)].domains[domain] = n
    for d, visitor_id, ip in execute(select(day, Visit.visitor_id, Visit.ip).where(theirs).distinct()):
        if as_date(d) in added:
            added[as_date(d)].visitor_ids.add(visitor_id)
            if ip is not None:
                added[as_date(d)].ips.add(ip)
    return added


@contextmanager
def recounted(visitor_ids: Iterable[str]):
    """Around deleting the visits of ``visitor_ids`` (in the caller's transaction): each archived day they fell
    on loses what their visits added to it (:func:`added_by`), and their ids and addresses leave the archive;
    an address leaves a day unless another of the day's visits still carries it after the deletion.
    """
    ids = sorted(visitor_ids)
    hold_archive(db.session.connection())
    added = added_by(ids)
    yield
    their_ips = sorted(set().union(*(figures.ips for figures in added.values())))
    kept: set[tuple[date, str]] = set()
    if their_ips:
        day = func.date(Visit.time)
        shop = not_(Visit.path.startswith("/admin"))
        found = db.session.execute(select(day, Visit.ip).where(Visit.ip.in_(their_ips), shop).distinct())
        kept = {(as_date(d), ip) for d, ip in found}
    gone = {d: {ip for ip in figures.ips if (d, ip) not in kept} for d, figures in added.items()}
    take_away(added, gone)
    db.session.execute(delete(VisitDayVisitor).where(VisitDayVisitor.visitor_id.in_(ids)))


def take_away(added: dict[date, DayFigures], gone_ips: dict[date, set[str]]) -> None:
    """Take what some visits ``added`` out of each day's archive; ``gone_ips``: per day, their addresses no
    visit of the day carries any more. One statement per table, run for every row it changes."""
    if not added:
        return
    conn = db.session.connection()
    conn.execute(delete(VisitSpan.__table__))
    days = VisitDay.__table__
    conn.execute(
        update(days)
        .where(days.c.day == bindparam("d"))
        .values(
            visits=days.c.visits - bindparam("visits"),
            blocking=days.c.blocking - bindparam("blocking"),
            cart_adds=days.c.cart_adds - bindparam("cart_adds"),
            checkout_views=days.c.checkout_views - bindparam("checkout_views"),
            visitors=days.c.visitors - bindparam("visitors"),
            ips=days.c.ips - bindparam("ips"),
        ),
        [
            {
                "d": d,
                "visits": f.visits,
                "blocking": f.blocking,
                "cart_adds": f.cart_adds,
                "checkout_views": f.checkout_views,
                "visitors": len(f.visitor_ids),
                "ips": len(gone_ips[d]),
            }
            for d, f in added.items()
        ],
    )
    for table, key, counted, counts_of in (
        (VisitDayPage.__table__, "label", "views", lambda f: f.pages),
        (VisitDayDomain.__table__, "domain", "visits", lambda f: f.domains),
    ):
        changes = [{"d": d, "k": k, "n": n} for d, f in added.items() for k, n in counts_of(f).items()]
        if changes:
            conn.execute(
                update(table)
                .where(table.c.day == bindparam("d"), table.c[key] == bindparam("k"))
                .values({counted: table.c[counted] - bindparam("n")}),
                changes,
            )
        conn.execute(delete(table).where(table.c.day.in_(sorted(added)), table.c[counted] <= 0))
    addresses = VisitDayAddress.__table__
    if pairs := [{"d": d, "ip": ip} for d, ips in gone_ips.items() for ip in ips]:
        conn.execute(
            delete(addresses).where(addresses.c.day == bindparam("d"), addresses.c.ip == bindparam("ip")), pairs
        )


def forget_identities(cutoff: datetime) -> int:
    """Delete the archived visitor ids and addresses of every day with a visit before ``cutoff``; how many.

    The counts stay: they name nobody.
    """
    deleted = 0
    for model in (VisitDayVisitor, VisitDayAddress):
        deleted += db.session.execute(delete(model).where(model.day <= cutoff.date())).rowcount
    if deleted:
        db.session.execute(delete(VisitSpan))
    db.session.commit()
    return deleted


def insert_new(model, rows: list[dict]) -> None:
    """INSERT ``rows``, skipping any whose primary key is already stored."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    db.session.execute(dialect.insert(model).on_conflict_do_nothing(), rows)


def shorten_addresses(cutoff: datetime | None) -> int:
    """Cut every full archived address of a day with a visit before ``cutoff`` (all, if None) to its network.

    Two addresses of one network on one day become one row, as the
    day's visits then count one network. ``SHORTEN_BATCH`` per transaction;
    returns how many full addresses were shortened.
    """
    conditions = [VisitDayAddress.ip.not_like("%/%")]
    if cutoff is not None:
        conditions.append(VisitDayAddress.day <= cutoff.date())
    changed = 0
    while True:
        batch = db.session.execute(
            select(VisitDayAddress.day, VisitDayAddress.ip)
            .where(*conditions)
            .order_by(VisitDayAddress.day, VisitDayAddress.ip)
            .limit(SHORTEN_BATCH)
        ).all()
        if not batch:
            return changed
        db.session.execute(
            delete(VisitDayAddress).where(
                tuple_(VisitDayAddress.day, VisitDayAddress.ip).in_([tuple(r) for r in batch])
            )
        )
        db.session.execute(delete(VisitSpan))
        shortened = {(day, truncated_ip(ip)) for day, ip in batch}
        insert_new(VisitDayAddress, [{"day": day, "ip": ip} for day, ip in shortened if ip])
        db.session.commit()
        changed += len(batch)


# --- Reading a period ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodFigures:
    """What the shop's visits of a period come to; ``days`` holds (day, visits, visitor ids, addresses) per day."""

    visits: int
    visitors: int
    ips: int
    blocking: int
    cart_adds: int
    checkout_views: int
    days: list[tuple[str, int, int, int]]
    domains: list[tuple[str, int]]
    pages: list[tuple[str, int]]


def top(counts: dict[str, int], n: int) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]


def merged(*counts: dict[str, int]) -> dict[str, int]:
    total: dict[str, int] = {}
    for found in counts:
        for name, n in found.items():
            total[name] = total.get(name, 0) + n
    return total


def distinct_counts(first: date, last: date, archived: list[date], live) -> tuple[int, int]:
    """Distinct visitor ids and addresses of the days ``first`` to ``last``: over the union of the archived days'
    and the live visits' ones, or, when the archived days are a span counted at archive time, that count and
    the live ones the span has not seen."""
    span = None
    if archived and (archived[-1] - archived[0]).days + 1 == len(archived):
        span = db.session.get(VisitSpan, (archived[0], archived[-1]))
    counts = []
    for model, column, span_count in (
        (VisitDayVisitor, Visit.visitor_id, span and span.visitors),
        (VisitDayAddress, Visit.ip, span and span.ips),
    ):
        archived_column = getattr(model, column.key)
        if span is None:
            either = union(
                select(column).where(live, column.is_not(None)),
                select(archived_column).where(model.day.between(first, last)),
            ).subquery()
            counts.append(db.session.execute(select(func.count()).select_from(either)).scalar_one())
            continue
        seen = select(model.day).where(archived_column == column, model.day.between(span.first, span.last))
        new = db.session.scalar(select(func.count(column.distinct())).where(live, column.is_not(None), ~seen.exists()))
        counts.append(span_count + new)
    return counts[0], counts[1]


def period_figures(first: date, last: date, top_n: int) -> PeriodFigures:
    """The figures of the days ``first`` to ``last``: archived days from the archive, the others from their visits."""
    execute = db.session.execute
    archived = {row.day: row for row in db.session.scalars(select(VisitDay).where(VisitDay.day.between(first, last)))}
    live = shop_visits_on(day for day in days_between(first, last) if day not in archived)

    visits, blocking, cart_adds, checkout_views = counted_totals(live)
    for row in archived.values():
        visits, blocking = visits + row.visits, blocking + row.blocking
        cart_adds, checkout_views = cart_adds + row.cart_adds, checkout_views + row.checkout_views

    visitors, addresses = distinct_counts(first, last, sorted(archived), live)

    day = func.date(Visit.time)
    per_day = {
        as_date(d): (n, v, i)
        for d, n, v, i in execute(
            select(day, func.count(), func.count(Visit.visitor_id.distinct()), func.count(Visit.ip.distinct()))
            .where(live)
            .group_by(day)
        ).all()
    }
    per_day |= {d: (row.visits, row.visitors, row.ips) for d, row in archived.items()}
    days = [(d.isoformat(), *per_day.get(d, (0, 0, 0))) for d in days_between(first, last)]

    archived_domains = dict(
        execute(
            select(VisitDayDomain.domain, func.sum(VisitDayDomain.visits))
            .where(VisitDayDomain.day.between(first, last))
            .group_by(VisitDayDomain.domain)
        ).all()
    )
    archived_pages = dict(
        execute(
            select(VisitDayPage.label, func.sum(VisitDayPage.views))
            .where(VisitDayPage.day.between(first, last))
            .group_by(VisitDayPage.label)
        ).all()
    )
    return PeriodFigures(
        visits=visits,
        visitors=visitors,
        ips=addresses,
        blocking=blocking,
        cart_adds=cart_adds,
        checkout_views=checkout_views,
        days=days,
        domains=top(merged(counted_domains(live), archived_domains), top_n),
        pages=top(merged(counted_pages(live), archived_pages), top_n),
    )
