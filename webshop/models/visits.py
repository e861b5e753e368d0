"""The visit log, one row per page request, the visitor ids whose visits were erased, and the daily archive."""

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db, utcnow

# Column widths; longer values are cut to fit before they are stored.
PATH_MAX = 2048
QUERY_MAX = 2048
USER_AGENT_MAX = 512
REFERRER_MAX = 1024
DOMAIN_MAX = 255


class Visit(db.Model):
    """One request as the web server saw it.

    ``uid`` is made by the worker that served the request, before the row
    reaches the database, so a row replayed from the spool after a crash is
    recognised and stored once. With a blocking signal ``ip``, ``domain``
    and ``visitor_id`` stay empty.
    """

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    time: Mapped[datetime]
    ip: Mapped[str | None] = mapped_column(String(45))
    domain: Mapped[str | None] = mapped_column(String(DOMAIN_MAX))
    domain_confirmed: Mapped[bool] = mapped_column(default=False)
    method: Mapped[str] = mapped_column(String(16))
    # Compared byte by byte on both databases (SQLite's BINARY, PostgreSQL's "C"), so that a path prefix is one
    # range of ``ix_visit_path_time`` and paths sort the same everywhere.
    path: Mapped[str] = mapped_column(String(PATH_MAX).with_variant(String(PATH_MAX, collation="C"), "postgresql"))
    query: Mapped[str] = mapped_column(String(QUERY_MAX), default="")
    protocol: Mapped[str] = mapped_column(String(16), default="HTTP/1.1")
    status: Mapped[int] = mapped_column(SmallInteger)
    response_bytes: Mapped[int | None]
    response_ms: Mapped[float] = mapped_column(Float)
    user_agent: Mapped[str | None] = mapped_column(String(USER_AGENT_MAX))
    referrer: Mapped[str | None] = mapped_column(String(REFERRER_MAX))
    visitor_id: Mapped[str | None] = mapped_column(String(64))
    blocking_signal: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        Index("ix_visit_time", "time"),
        # A visitor's visits newest first (profile, "your data", the policy page's evidence) read
        # straight from the index, however many visits the visitor has; lookups by visitor use it too.
        Index("ix_visit_visitor_time", "visitor_id", "time"),
        Index("ix_visit_ip", "ip"),
        # The visit log filtered by a path prefix reads only the matching visits (webshop.staff.visitlog).
        Index("ix_visit_path_time", "path", "time"),
    )


class RetiredVisitor(db.Model):
    """A visitor id whose visits were erased, as the hex SHA-256 of the id."""

    __tablename__ = "retired_visitor"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    retired_at: Mapped[datetime] = mapped_column(default=utcnow)


class VisitDay(db.Model):
    """The shop's visit figures of one UTC day, archived from its visits (see webshop/visits/daily.py).

    ``visitors`` and ``ips`` are the day's distinct visitor ids and IP
    addresses, as numbers; the ids and addresses themselves, needed to count
    them over several days, are in :class:`VisitDayVisitor` and
    :class:`VisitDayAddress` until the purge reaches the day. ``until`` is
    set while the day is archived only up to that time (today, by the hour):
    its later visits are counted from the visit log.
    """

    __tablename__ = "visit_day"

    day: Mapped[date] = mapped_column(primary_key=True)
    visits: Mapped[int]
    blocking: Mapped[int]
    cart_adds: Mapped[int]
    checkout_views: Mapped[int]
    visitors: Mapped[int]
    ips: Mapped[int]
    archived_at: Mapped[datetime] = mapped_column(default=utcnow)
    until: Mapped[datetime | None]


class VisitDayPage(db.Model):
    """How often a served page was viewed on an archived day, by the name "top pages" gives it."""

    __tablename__ = "visit_day_page"

    day: Mapped[date] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(PATH_MAX), primary_key=True)
    views: Mapped[int]


class VisitDayDomain(db.Model):
    """How many visits of an archived day came from a confirmed domain."""

    __tablename__ = "visit_day_domain"

    day: Mapped[date] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(DOMAIN_MAX), primary_key=True)
    visits: Mapped[int]


class VisitDayVisitor(db.Model):
    """A visitor id seen on an archived day: personal data, erased with the visitor and purged with its visits."""

    __tablename__ = "visit_day_visitor"

    day: Mapped[date] = mapped_column(primary_key=True)
    visitor_id: Mapped[str] = mapped_column(String(64), primary_key=True)

    # Erasure finds a visitor's rows by id; the dashboard asks whether an id was seen on some days.
    __table_args__ = (Index("ix_visit_day_visitor_visitor", "visitor_id", "day"),)


class VisitDayAddress(db.Model):
    """An IP address seen on an archived day: personal data, shortened, erased and purged as the visits are."""

    __tablename__ = "visit_day_address"

    day: Mapped[date] = mapped_column(primary_key=True)
    ip: Mapped[str] = mapped_column(String(45), primary_key=True)

    __table_args__ = (Index("ix_visit_day_address_ip", "ip", "day"),)


class VisitSpan(db.Model):
    """Distinct visitor ids and IP addresses over a run of archived days, and their confirmed domains' visits,
    counted when they were archived.

    Deleted whenever the archive of any day changes, so a span present is
    always the count of what the archive holds for it.
    """

    __tablename__ = "visit_span"

    first: Mapped[date] = mapped_column(primary_key=True)
    last: Mapped[date] = mapped_column(primary_key=True)
    visitors: Mapped[int]
    ips: Mapped[int]
    domains: Mapped[dict] = mapped_column(JSON)
