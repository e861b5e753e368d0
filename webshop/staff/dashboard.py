"""The dashboard: what the visit log and the forms add up to over a date range.

Staff pages (paths under ``/admin``) are left out of the visit figures so
the charts describe the shop, not its staff. "Top pages" counts only pages
that were served (status 200) and names each by its route, never by text a
visitor typed into the address: see :func:`webshop.visits.daily.page_label`.
Archived days are read from the daily archive, today up to the start of the
hour too (archived on the first view of the hour), and the rest from the
visits (:mod:`webshop.visits.daily`).
"""

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

from flask import render_template, request
from sqlalchemy import func

from ..db import db
from ..models import ConsentDecision, Order, utcnow
from ..stats import OptOuts, count_if, opt_outs_between, percent
from ..submissions import FORM_KINDS
from ..visits.daily import DEFAULT_DAYS, archive_today, period_figures
from .auth import bp
from .charts import Series, bar_list, column_chart

# Charts fill their card, so each is drawn at about the card's width on a desktop
# screen: its 13 px labels then show at about 13 px (half-width cards use the default).
FULL_WIDTH = 1000

MAX_DAYS = 366
TOP_N = 10


@dataclass(frozen=True)
class Period:
    """Whole days, both ends included, in UTC."""

    start: date
    end: date

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, datetime.min.time())

    @property
    def end_before(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), datetime.min.time())

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def default_period() -> Period:
    today = utcnow().date()
    return Period(today - timedelta(days=DEFAULT_DAYS - 1), today)


def parse_day(value: str, label: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"The {label} date must look like 2025-01-31; got {value[:20]!r}.") from None


def parse_period(args) -> tuple[Period, str | None]:
    """The period asked for in ``from``/``to``, or the default and a message saying what was wrong."""
    default = default_period()
    raw_from, raw_to = args.get("from", "").strip(), args.get("to", "").strip()
    try:
        start = parse_day(raw_from, "start") if raw_from else None
        end = parse_day(raw_to, "end") if raw_to else None
    except ValueError as error:
        return default, str(error)
    if start is None and end is None:
        return default, None
    if end is None:
        end = min(start + timedelta(days=DEFAULT_DAYS - 1), default.end) if start <= default.end else start
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        return default, "The start date is after the end date."
    if (end - start).days + 1 > MAX_DAYS:
        return default, f"Choose at most {MAX_DAYS} days."
    return Period(start, end), None


def day_key(value) -> str:
    """SQLite answers date() with a string, PostgreSQL with a date."""
    return str(value)[:10]


def visit_figures(period: Period) -> dict:
    """The period's visit figures: archived days from the daily archive, the rest from the visits (see daily.py).

    A period that reaches today or yesterday first brings their archive up to the hour, once an hour.
    """
    if period.end >= utcnow().date() - timedelta(days=1):
        archive_today()
    found = period_figures(period.start, period.end, TOP_N)
    orders = db.session.execute(
        db.select(func.count())
        .select_from(Order)
        .where(Order.created_at >= period.start_at, Order.created_at < period.end_before)
    ).scalar_one()
    return {
        "total": found.visits,
        "visitors": found.visitors,
        "ips": found.ips,
        "blocking": found.blocking,
        "blocking_percent": percent(found.blocking, found.visits),
        "days": found.days,
        "domains": found.domains,
        "pages": found.pages,
        "funnel": [
            ("Added to cart", found.cart_adds),
            ("Opened checkout", found.checkout_views),
            ("Placed an order", orders),
        ],
    }


@dataclass(frozen=True, kw_only=True)
class FormRates(OptOuts):
    label: str


def opt_out_rates(period: Period) -> list[FormRates]:
    """Per form, every form first: how many submissions in ``period``, and the share with each opt-out box ticked."""
    found = opt_outs_between(period.start, period.end)
    kinds = list(FORM_KINDS) + sorted(set(found) - set(FORM_KINDS))
    labels = {kind: form.service for kind, form in FORM_KINDS.items()}
    return [FormRates(**asdict(found.get(kind, OptOuts(kind))), label=labels.get(kind, kind)) for kind in kinds]


@dataclass(frozen=True)
class ConsentDay:
    day: str
    accept: int
    decline: int
    withdraw: int


def consent_totals(period: Period | None = None) -> list[ConsentDay]:
    """Per day of ``period`` (default: the last 30 days) with any decision, newest first: the consent log's totals."""
    period = period or default_period()
    day = func.date(ConsentDecision.at)
    found = db.session.execute(
        db.select(
            day,
            count_if(ConsentDecision.choice == ConsentDecision.ACCEPT),
            count_if(ConsentDecision.choice == ConsentDecision.DECLINE),
            count_if(ConsentDecision.choice == ConsentDecision.WITHDRAW),
        )
        .where(ConsentDecision.at >= period.start_at, ConsentDecision.at < period.end_before)
        .group_by(day)
        .order_by(day.desc())
    ).all()
    return [ConsentDay(day_key(d), accept, decline, withdraw) for d, accept, decline, withdraw in found]


@bp.get("/")
def dashboard():
    period, problem = parse_period(request.args)
    figures = visit_figures(period)
    rates = opt_out_rates(period)
    labels = [d[5:] for d, *_ in figures["days"]]
    charts = {
        "visits": column_chart(
            labels, [Series("visits", [d[1] for d in figures["days"]], "series-1")], width=FULL_WIDTH
        ),
        "unique": column_chart(
            labels,
            [
                Series("visitor ids", [d[2] for d in figures["days"]], "series-1"),
                Series("IP addresses", [d[3] for d in figures["days"]], "series-2"),
            ],
            width=FULL_WIDTH,
        ),
        "domains": bar_list(figures["domains"]),
        "pages": bar_list(figures["pages"]),
        "funnel": bar_list(figures["funnel"], width=FULL_WIDTH),
        "no_marketing": bar_list([(r.label, r.no_marketing_percent) for r in rates], unit=" %", maximum=100),
        "no_share": bar_list([(r.label, r.no_share_percent) for r in rates], unit=" %", maximum=100),
        "blocking": bar_list(
            [
                ("With a blocking signal", figures["blocking_percent"]),
                ("Without", 100 - figures["blocking_percent"] if figures["total"] else 0),
            ],
            unit=" %",
            maximum=100,
            width=FULL_WIDTH,
        ),
    }
    return (
        render_template(
            "staff/dashboard.html",
            period=period,
            problem=problem,
            figures=figures,
            rates=rates,
            charts=charts,
            consent_days=consent_totals(period),
            form_from=request.args.get("from", period.start.isoformat())[:20],
            form_to=request.args.get("to", period.end.isoformat())[:20],
        ),
        400 if problem else 200,
    )
