"""The shop's visit figures per day: counted from the visit log, archived once a day has ended.

The staff dashboard adds up what the shop's visits (every path outside
``/admin``) come to over a period: visits, blocking signals, cart adds,
checkout views, pages viewed, confirmed domains, distinct visitor ids and
distinct IP addresses. Counting that from the visit log reads every visit of
the period, so, as Matomo archives its reports, each finished UTC day is
counted once (:func:`archive_day`, run by ``flask visits archive`` and by
the purge before it deletes anything) into the ``visit_day`` tables, and
:func:`period_figures` reads archived days from there and every other day
(a day never archived) from the visits themselves. Today is archived up to
the start of the hour (:func:`archive_today`, run by the dashboard and by
``flask visits archive``), as Matomo archives today, so only the visits since
then are counted live. Distinct visitors and addresses over a period are
counted over the union of the archived days' ids and addresses and the live
visits' ones, so they stay exact.

An archive stays true to the visit log:

- a visit stored later for a time an archive already counted (a spool
  replayed after a crash, a request that began before the hour) drops that
  day's archive (:func:`drop_outdated`, called by the visit writer): the day
  is counted from its visits until it is archived again;
- erasing a visitor takes what its visits added out of the archived days
  they fell on and deletes its ids and addresses from the archive
  (:func:`recounted`); a day archived only partly is dropped instead;
- the purge deletes the ids and addresses of every day it reaches and keeps
  the counts (:func:`forget_identities`), and shortens the archived addresses
  as it shortens the visits' (:func:`shorten_addresses`).
"""

from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import islice

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
# The dashboard's default period, today and the days before it: its archived days' distinct visitor ids
# and addresses, and their domains' visits, are counted once, when they are archived (a VisitSpan).
DEFAULT_DAYS = 30
# Today is archived up to the start of an hour once the hour has been over this long: a visit of the
# hour before that a writer was still storing when it ended is stored by then, or finds the archive
# it must drop (a writer's transaction takes milliseconds, seconds when the database is busy).
SETTLED = timedelta(minutes=5)
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


def hour_start(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def as_date(value) -> date:
    """SQLite answers date() with a string, PostgreSQL with a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def shop_visits_between(start: datetime, end: datetime):
    """The conditions for visits to the shop (not its staff pages) from ``start`` until before ``end``."""
    return and_(Visit.time >= start, Visit.time < end, not_(Visit.path.startswith("/admin")))


def shop_visits_in(ranges: Iterable[tuple[datetime, datetime]]):
    """The conditions for the shop's visits in the time ranges ``ranges``, sorted; adjacent ones joined."""
    runs: list[list[datetime]] = []
    for start, end in ranges:
        if runs and runs[-1][1] == start:
            runs[-1][1] = end
        else:
            runs.append([start, end])
    if not runs:
        return false()
    return or_(*(shop_visits_between(start, end) for start, end in runs))


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
    def counted(cls, day: date, until: datetime | None = None) -> "DayFigures":
        """``day``'s figures counted from its visits, or from those before ``until``."""
        where = shop_visits_in([(day_start(day), until or day_start(day + timedelta(days=1)))])
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


def late_visits(rows: list[dict]) -> dict[date, datetime]:
    """Per day, the earliest time among ``rows`` before the start of the current hour, which an archive may
    have counted past already: one comparison for a batch of this hour's visits."""
    hour = hour_start(utcnow())
    if not rows or min(row["time"] for row in rows) >= hour:
        return {}
    earliest: dict[date, datetime] = {}
    for row in rows:
        if row["time"] < hour:
            day = row["time"].date()
            earliest[day] = min(earliest.get(day, row["time"]), row["time"])
    return earliest


def drop_outdated(conn, earliest: dict[date, datetime]) -> None:
    """On ``conn`` (the caller's transaction), drop the archive of every day of ``earliest`` that counted its
    visits past the earliest of its late ones: a day archived whole, or up to a later time."""
    hold_archive(conn)
    archived = conn.execute(select(VisitDay.day, VisitDay.until).where(VisitDay.day.in_(sorted(earliest)))).all()
    outdated = [day for day, until in archived if until is None or earliest[as_date(day)] < until]
    if outdated:
        drop_days(conn, outdated)


def archive_day(day: date, until: datetime | None = None) -> DayFigures:
    """Count ``day`` from its visits (those before ``until``, if given) into the archive, replacing whatever was
    there, in one transaction."""
    # Deleting first takes SQLite's write lock: a visit stored for the day meanwhile waits, then drops this archive.
    drop_days(db.session.connection(), [day])
    figures = DayFigures.counted(day, until)
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
            until=until,
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
    done = set(db.session.scalars(select(VisitDay.day).where(VisitDay.day >= oldest.date(), VisitDay.until.is_(None))))
    days = [day for day in days_between(oldest.date(), yesterday) if day not in done]
    for day in days:
        archive_day(day)
    count_default_span()
    return days


def archive_today() -> list[date]:
    """Archive today up to the start of the hour, and yesterday whole if it was archived only partly; the days.

    As Matomo archives today (``time_before_today_archive_considered_outdated``), so that only the visits
    of the current hour (and the settling minutes after it began) are counted live. Nothing is written when
    the archive is up to date already.
    """
    horizon = hour_start(utcnow() - SETTLED)
    today, yesterday = horizon.date(), horizon.date() - timedelta(days=1)
    until = {
        as_date(day): until
        for day, until in db.session.execute(select(VisitDay.day, VisitDay.until).where(VisitDay.day >= yesterday))
    }
    days = []
    if until.get(yesterday) is not None:
        archive_day(yesterday)
        days.append(yesterday)
    if horizon > day_start(today) and (today not in until or until[today] is not None and until[today] < horizon):
        archive_day(today, horizon)
        days.append(today)
    if days:
        count_default_span()
    return days


def count_default_span() -> None:
    """Count the distinct visitor ids and addresses, and the domains' visits, of the default period's archived
    days (its finished days, and today's archive if there is one), once each of its finished days is archived."""
    hold_archive(db.session.connection())
    today = utcnow().date()
    first = today - timedelta(days=DEFAULT_DAYS - 1)
    held = set(db.session.scalars(select(VisitDay.day).where(VisitDay.day.between(first, today))))
    last = today if today in held else today - timedelta(days=1)
    if len(held) != (last - first).days + 1 or db.session.get(VisitSpan, (first, last)):
        return
    visitors, ips = (
        db.session.scalar(select(func.count(column.distinct())).where(model.day.between(first, last)))
        for model, column in ((VisitDayVisitor, VisitDayVisitor.visitor_id), (VisitDayAddress, VisitDayAddress.ip))
    )
    domains = dict(ranked(summed_domains(first, last)))  # in rank order: the dashboard reads the top of it
    db.session.add(VisitSpan(first=first, last=last, visitors=visitors, ips=ips, domains=domains))
    db.session.commit()


def summed_domains(first: date, last: date) -> dict[str, int]:
    """The archived visits per confirmed domain of the days ``first`` to ``last``."""
    return dict(
        db.session.execute(
            select(VisitDayDomain.domain, func.sum(VisitDayDomain.visits))
            .where(VisitDayDomain.day.between(first, last))
            .group_by(VisitDayDomain.domain)
        ).all()
    )


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
    drop_partial(db.session.connection())
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


def drop_partial(conn, through: date | None = None) -> None:
    """Drop every archive of a day counted only partly (up to ``through``, if given), in the caller's transaction:
    such a day is counted from its visits until it is archived again, which costs at most a day's visits."""
    hold_archive(conn)
    partial = select(VisitDay.day).where(VisitDay.until.is_not(None))
    if through is not None:
        partial = partial.where(VisitDay.day <= through)
    if days := conn.execute(partial).scalars().all():
        drop_days(conn, days)


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

    The counts stay: they name nobody. A day archived only partly is dropped: its visits left are counted.
    """
    drop_partial(db.session.connection(), cutoff.date())
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


def ranked(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Most first, and by name among equals, as "top" lists show them."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def top(counts: dict[str, int], n: int) -> list[tuple[str, int]]:
    return ranked(counts)[:n]


def top_with_span(live: dict[str, int], span: dict[str, int], n: int) -> list[tuple[str, int]]:
    """The top ``n`` of ``live`` and ``span`` (in rank order) added up, reading only the top of the span.

    A name with no live visits that is not among the span's first ``n`` stays behind all of those, whose
    totals only grow: so those ``n`` and the live names, with what the span holds for them, decide it.
    """
    leaders = dict(islice(span.items(), n))
    return top(merged(live, leaders | {name: span.get(name, 0) for name in live}), n)


def merged(*counts: dict[str, int]) -> dict[str, int]:
    total: dict[str, int] = {}
    for found in counts:
        for name, n in found.items():
            total[name] = total.get(name, 0) + n
    return total


def unseen(live, model, column, first: date, last: date) -> int:
    """How many distinct values of ``column`` among the live visits ``live`` the archive of the days ``first`` to
    ``last`` has not seen: a look-up in its index per live value."""
    archived_column = getattr(model, column.key)
    seen = select(model.day).where(archived_column == column, model.day.between(first, last))
    return db.session.scalar(select(func.count(column.distinct())).where(live, column.is_not(None), ~seen.exists()))


IDENTITIES = ((VisitDayVisitor, Visit.visitor_id), (VisitDayAddress, Visit.ip))


def distinct_counts(first: date, last: date, span: VisitSpan | None, live) -> tuple[int, int]:
    """Distinct visitor ids and addresses of the days ``first`` to ``last``: over the union of the archived days'
    and the live visits' ones, or, when the archived days are a span counted at archive time, that count and
    the live ones the span has not seen."""
    if span is not None:
        visitors, ips = (unseen(live, *identity, span.first, span.last) for identity in IDENTITIES)
        return span.visitors + visitors, span.ips + ips
    counts = []
    for model, column in IDENTITIES:
        either = union(
            select(column).where(live, column.is_not(None)),
            select(getattr(model, column.key)).where(model.day.between(first, last)),
        ).subquery()
        counts.append(db.session.execute(select(func.count()).select_from(either)).scalar_one())
    return counts[0], counts[1]


def live_ranges(first: date, last: date, archived: dict[date, VisitDay]) -> list[tuple[datetime, datetime]]:
    """The times of the days ``first`` to ``last`` the archive does not count: a day not archived whole, from
    where its archive stops (its start, if it has none) to its end."""
    ranges = []
    for day in days_between(first, last):
        row = archived.get(day)
        if row is None or row.until is not None:
            ranges.append((row.until if row else day_start(day), day_start(day + timedelta(days=1))))
    return ranges


def period_figures(first: date, last: date, top_n: int) -> PeriodFigures:
    """The figures of the days ``first`` to ``last``: what the archive counted from the archive, the other
    visits (days not archived, and today since the hour its archive stops at) from the visit log."""
    execute = db.session.execute
    archived = {row.day: row for row in db.session.scalars(select(VisitDay).where(VisitDay.day.between(first, last)))}
    live = shop_visits_in(live_ranges(first, last, archived))
    span = None
    if archived and (max(archived) - min(archived)).days + 1 == len(archived):
        span = db.session.get(VisitSpan, (min(archived), max(archived)))

    visits, blocking, cart_adds, checkout_views = counted_totals(live)
    for row in archived.values():
        visits, blocking = visits + row.visits, blocking + row.blocking
        cart_adds, checkout_views = cart_adds + row.cart_adds, checkout_views + row.checkout_views

    visitors, addresses = distinct_counts(first, last, span, live)

    day = func.date(Visit.time)
    per_day = {
        as_date(d): (n, v, i)
        for d, n, v, i in execute(
            select(day, func.count(), func.count(Visit.visitor_id.distinct()), func.count(Visit.ip.distinct()))
            .where(live)
            .group_by(day)
        ).all()
    }
    for d, row in archived.items():
        if row.until is None or d not in per_day:
            per_day[d] = (row.visits, row.visitors, row.ips)
        else:  # archived up to an hour, and visited since
            since = shop_visits_in([(row.until, day_start(d + timedelta(days=1)))])
            new_visitors, new_ips = (unseen(since, model, column, d, d) for model, column in IDENTITIES)
            per_day[d] = (row.visits + per_day[d][0], row.visitors + new_visitors, row.ips + new_ips)
    days = [(d.isoformat(), *per_day.get(d, (0, 0, 0))) for d in days_between(first, last)]

    live_domains = counted_domains(live)
    if span is not None:
        domains = top_with_span(live_domains, span.domains, top_n)
    else:
        domains = top(merged(live_domains, summed_domains(first, last)), top_n)
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
        domains=domains,
        pages=top(merged(counted_pages(live), archived_pages), top_n),
    )
