"""The dashboard's daily figures: archived days show what their visits showed, and stay true to the visit log
when a visit arrives late, a visitor is erased, the purge runs or a day is archived again."""

import re
import threading
import uuid
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from tests.support.pages import element_text
from tests.support.staff import signed_in, submission, visit
from webshop.db import db
from webshop.models import (
    Visit,
    VisitDay,
    VisitDayAddress,
    VisitDayDomain,
    VisitDayPage,
    VisitDayVisitor,
    VisitSpan,
    utcnow,
)
from webshop.privacy.holdings import erase, forget_browser
from webshop.visits import daily
from webshop.visits.daily import ARCHIVE_TABLES, archive_day
from webshop.visits.writer import store_rows

A, B, C, D = "192.0.2.10", "198.51.100.20", "203.0.113.30", "203.0.113.77"
GONE, KEPT, OTHER = "visitor-to-be-erased", "visitor-who-stays", "visitor-now-and-then"
GONE_EMAIL = "gone@example.org"
FIGURES = ("total-visits", "total-visitors", "total-ips", "total-blocking")
TABLES = ("table-days", "table-domains", "table-pages", "table-funnel")


@pytest.fixture
def app_config():
    return {"VISITS_ENABLED": False}


def day(days_ago: int, hour: int = 12) -> datetime:
    return datetime.combine(utcnow().date() - timedelta(days=days_ago), time(hour))


def rows(html: str, table_id: str) -> list[list[str]]:
    table = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    ]


def dashboard(client) -> dict:
    """Every visit figure the dashboard shows for the default 30 days."""
    html = client.get("/admin/").get_data(as_text=True)
    return {**{key: element_text(html, key) for key in FIGURES}, **{key: rows(html, key) for key in TABLES}}


def per_day(figures: dict) -> dict[str, list[str]]:
    return {r[0]: r[1:] for r in figures["table-days"]}


def archived_days(app) -> list:
    with app.app_context():
        return list(db.session.scalars(select(VisitDay.day).order_by(VisitDay.day)))


def archive_rows(app) -> dict[str, list[tuple]]:
    """Every row of every archive table, without the time it was written."""
    with app.app_context():
        found = {}
        for model in ARCHIVE_TABLES:
            columns = [c for c in model.__table__.columns if c.name != "archived_at"]
            found[model.__tablename__] = sorted(db.session.execute(select(*columns)).all())
        return found


def archive(runner) -> str:
    result = runner.invoke(args=["visits", "archive"])
    assert result.exit_code == 0, result.output
    return result.output


def drop_archive(app) -> None:
    """Forget every archived figure: the dashboard then counts every day from its visits."""
    with app.app_context():
        for model in ARCHIVE_TABLES:
            db.session.execute(delete(model))
        db.session.commit()


@pytest.fixture
def several_days(app):
    """Shop visits over five past days and today, from visitors and addresses that come back on several days."""
    gone = {"visitor": GONE, "ip": D, "domain": "gone.example.net", "confirmed": True}
    kept = {"visitor": KEPT, "ip": A, "domain": "kept.example.net", "confirmed": True}
    with app.app_context():
        db.session.add_all(
            [
                visit(day(5), "/", **kept),
                visit(day(5), "/product/hush-anc", **kept),
                visit(day(5), "/cart/add", method="POST", status=303, **kept),
                visit(day(5), "/", ip=B, visitor=OTHER),
                visit(day(5), "/", blocking=True),
                visit(day(4), "/", ip=B, visitor=OTHER, domain="unconfirmed.example", confirmed=False),
                visit(day(4), "/checkout", **kept),
                visit(day(4), "/missing", status=404, ip=C, visitor=OTHER),
                visit(day(4), "/admin/", ip=C, visitor="staff-browser"),  # staff pages are left out
                visit(day(3), "/", **gone),
                visit(day(3), "/product/dash-cam", **gone),
                visit(day(3), "/cart/add", method="POST", status=303, **gone),
                visit(day(3), "/", ip=A, visitor=OTHER),  # the address of another visitor
                visit(day(3), "/chat/messages", **kept),
                visit(day(2), "/checkout", **gone),
                visit(day(2), "/", visitor=GONE, ip=A),  # an address another visitor uses that day too
                visit(day(2), "/", **kept),
                visit(day(2), "/newsletter/confirm/" + "x" * 30, ip=B, visitor=OTHER),
                visit(day(1), "/product/hush-anc", blocking=True),
                visit(day(1), "/", ip=C, visitor=OTHER, domain="kept.example.net", confirmed=True),
                visit(utcnow(), "/", **kept),
                visit(utcnow(), "/product/dash-cam", **gone),
                visit(day(40), "/", ip=C),  # outside the default 30 days
            ]
        )
        db.session.add(submission("contact", GONE_EMAIL, visitor_id=GONE, created_at=day(3)))
        db.session.commit()


def test_archived_days_show_the_same_figures_as_their_visits(app, client, runner, several_days):
    signed_in(app, client)
    live = dashboard(client)
    assert live["total-visits"] == "21" and live["total-visitors"] == "3" and live["total-ips"] == "4"
    assert per_day(live)[day(2).date().isoformat()] == ["4", "3", "3"]

    assert "Archived the figures of " in archive(runner)
    finished = [d for d in archived_days(app) if d < utcnow().date()]
    assert len(finished) == 40  # every finished day since the oldest visit; today is archived by the hour
    with app.app_context():  # the default period's finished days, counted once for the distinct figures
        assert [(s.visitors, s.ips) for s in db.session.scalars(select(VisitSpan))] == [(3, 4)]
    assert dashboard(client) == live
    one_day = f"/admin/?from={day(3).date()}&to={day(3).date()}"
    before = client.get(one_day).get_data(as_text=True)
    assert element_text(before, "total-visits") == "5"

    with app.app_context():  # the archive alone now answers for the finished days
        db.session.execute(delete(Visit).where(Visit.time < day(0, 0)))
        db.session.commit()
    assert dashboard(client) == live


def test_a_visit_stored_later_for_an_archived_day_is_counted(app, client, runner, several_days):
    signed_in(app, client)
    archive(runner)
    replayed = {
        "uid": uuid.uuid4().hex,
        "time": day(2, 23),
        "ip": C,
        "domain": None,
        "domain_confirmed": False,
        "method": "GET",
        "path": "/",
        "query": "",
        "protocol": "HTTP/1.1",
        "status": 200,
        "response_bytes": 100,
        "response_ms": 1.0,
        "user_agent": None,
        "referrer": None,
        "visitor_id": "replayed-visitor",
        "blocking_signal": False,
    }
    store_rows(app, [replayed])  # as the writer stores a spool replayed after a crash
    after = dashboard(client)
    assert after["total-visits"] == "22" and after["total-visitors"] == "4"
    assert per_day(after)[day(2).date().isoformat()] == ["5", "4", "4"]
    assert day(2).date() not in archived_days(app)  # counted from its visits until archived again

    archive(runner)
    assert day(2).date() in archived_days(app)
    assert dashboard(client) == after


def late_visit(when: datetime) -> dict:
    return {
        "uid": uuid.uuid4().hex,
        "time": when,
        "ip": C,
        "domain": None,
        "domain_confirmed": False,
        "method": "GET",
        "path": "/",
        "query": "",
        "protocol": "HTTP/1.1",
        "status": 200,
        "response_bytes": 100,
        "response_ms": 1.0,
        "user_agent": None,
        "referrer": None,
        "visitor_id": "late-visitor",
        "blocking_signal": False,
    }


def test_a_visit_stored_while_its_day_is_being_archived_is_counted(app, client, monkeypatch, several_days):
    """Another worker stores a late visit for a day between the archive reading the day and committing it:
    the archive written without that visit must not stand (on PostgreSQL nothing else orders the two)."""
    signed_in(app, client)
    counted, go = threading.Event(), threading.Event()
    count_day = daily.DayFigures.counted

    def counted_then_wait(on, until=None):
        figures = count_day(on, until)
        counted.set()
        go.wait(10)
        return figures

    monkeypatch.setattr(daily.DayFigures, "counted", counted_then_wait)

    def archive_in_a_thread():
        with app.app_context():
            archive_day(day(2).date())

    archiving = threading.Thread(target=archive_in_a_thread)
    archiving.start()
    assert counted.wait(10)
    writer = threading.Thread(target=store_rows, args=(app, [late_visit(day(2, 23))]))
    writer.start()
    writer.join(1.0)  # without a lock it is done by now, having found no archive of the day to drop
    go.set()
    archiving.join(10)
    writer.join(10)
    assert not archiving.is_alive() and not writer.is_alive()
    assert day(2).date() not in archived_days(app)  # counted from its visits until archived again
    assert per_day(dashboard(client))[day(2).date().isoformat()] == ["5", "4", "4"]


@pytest.mark.parametrize("how", ["erase the address", "forget the browser"])
@pytest.mark.parametrize("hour", [None, 0], ids=["now", "before today is archived"])
def test_an_erased_visitor_leaves_every_figure_of_archived_days_and_every_archive_table(
    app, client, runner, database, monkeypatch, several_days, how, hour
):
    signed_in(app, client)
    if hour is not None:  # only finished days archived: the span of the default period holds their figures
        pin_clock(monkeypatch, hour, 3)
    archive(runner)
    before = dashboard(client)
    with app.test_request_context():
        erased = erase(GONE_EMAIL) if how == "erase the address" else forget_browser(GONE)
    assert erased.visits == 6

    after = dashboard(client)
    assert after["total-visits"] == "15" and after["total-visitors"] == "2"
    assert after["total-ips"] == "3"  # D was only the erased visitor's; A stays, others use it
    assert per_day(after)[day(3).date().isoformat()] == ["2", "2", "1"]
    assert per_day(after)[day(2).date().isoformat()] == ["2", "2", "2"]
    assert ["gone.example.net", "5"] in before["table-domains"]
    assert all(domain != "gone.example.net" for domain, _ in after["table-domains"])
    assert ["/product/dash-cam", "2"] in before["table-pages"]
    assert all(page != "/product/dash-cam" for page, _ in after["table-pages"])
    assert after["table-funnel"][:2] == [["Added to cart", "1", "100.0 %"], ["Opened checkout", "1", "100.0 %"]]
    with app.app_context():
        assert not db.session.scalars(select(VisitDayVisitor).where(VisitDayVisitor.visitor_id == GONE)).all()
        assert not db.session.scalars(select(VisitDayAddress).where(VisitDayAddress.ip == D)).all()
        assert not db.session.scalars(select(VisitDayDomain).where(VisitDayDomain.domain == "gone.example.net")).all()
    if database.startswith("sqlite"):
        db_file = Path(database.removeprefix("sqlite:///"))
        wal = db_file.with_name(db_file.name + "-wal")
        held = db_file.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        assert GONE.encode() not in held and D.encode() not in held
    drop_archive(app)
    assert dashboard(client) == after  # just what the remaining visits come to


def test_the_purge_keeps_the_daily_counts_and_no_visitor_id_or_address_of_the_days_it_reached(
    app, client, runner, several_days
):
    signed_in(app, client)
    before = dashboard(client)
    result = runner.invoke(args=["visits", "purge", "--older-than", "3"])
    assert result.exit_code == 0, result.output
    assert "visits older than 3 days" in result.output  # days 40, 5 and 4, and day 3 by the time of day

    after = dashboard(client)
    for key in ("total-visits", "total-blocking", "table-days", "table-domains", "table-pages", "table-funnel"):
        assert after[key] == before[key], key
    with app.app_context():
        assert db.session.scalar(select(Visit.id).where(Visit.time < day(3, 0))) is None
        reached = utcnow().date() - timedelta(days=3)
        for model in (VisitDayVisitor, VisitDayAddress):
            assert db.session.scalars(select(model).where(model.day <= reached)).all() == []
            assert db.session.scalars(select(model).where(model.day > reached)).all() != []
        assert db.session.scalars(select(VisitDayPage).where(VisitDayPage.day <= reached)).all() != []


@pytest.mark.parametrize("app_config", [{"VISITS_ENABLED": False, "IP_RETENTION_DAYS": 3}])
def test_the_purge_shortens_archived_addresses_as_it_shortens_the_visits(app, client, runner, several_days):
    with app.app_context():
        db.session.add(visit(day(4), "/", ip=D, visitor=OTHER))  # a second address of C's network that day
        db.session.commit()
    result = runner.invoke(args=["visits", "purge"])
    assert result.exit_code == 0, result.output
    reached = utcnow().date() - timedelta(days=3)
    with app.app_context():
        older = db.session.scalars(select(VisitDayAddress.ip).where(VisitDayAddress.day <= reached)).all()
        newer = db.session.scalars(select(VisitDayAddress.ip).where(VisitDayAddress.day > reached)).all()
        visits = db.session.scalars(select(Visit.ip).where(Visit.time < day(3, 0), Visit.ip.is_not(None))).all()
    assert older and all(ip.endswith("/24") for ip in older)
    assert {"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"} >= set(older)
    with app.app_context():
        four_days_ago = db.session.scalars(select(VisitDayAddress.ip).where(VisitDayAddress.day == day(4).date()))
        # one row per network and day
        assert sorted(four_days_ago) == ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"]
    assert newer and not any("/" in ip for ip in newer)
    assert visits and all(ip.endswith("/24") for ip in visits)


def test_archiving_a_day_again_changes_nothing(app, client, runner, several_days):
    signed_in(app, client)
    archive(runner)
    rows_then, figures_then = archive_rows(app), dashboard(client)
    assert "Every finished day was archived already." in archive(runner)
    with app.app_context():
        for days_ago in range(1, 7):
            archive_day(day(days_ago).date())
    assert archive_rows(app) == rows_then
    assert dashboard(client) == figures_then
    with app.app_context():
        staff = select(VisitDayVisitor).where(VisitDayVisitor.visitor_id == "staff-browser")
        assert db.session.scalars(staff).all() == []  # staff pages are not shop visits, in the archive as live


def pin_clock(monkeypatch, hour: int, minute: int = 30) -> datetime:
    """The archive's clock at ``hour``:``minute`` today; the dashboard's day stays today."""
    now = day(0, hour).replace(minute=minute)
    monkeypatch.setattr(daily, "utcnow", lambda: now)
    return now


@pytest.fixture
def today_by_the_hour(app, several_days):
    """Visits today before 15:00 and after it, from visitors and addresses seen on both sides and before."""
    with app.app_context():
        db.session.add_all(
            [
                visit(day(0, 9), "/", ip=B, visitor=OTHER, domain="kept.example.net", confirmed=True),
                visit(day(0, 14).replace(minute=50), "/product/dash-cam", ip=D, visitor=GONE),
                visit(day(0, 14).replace(minute=55), "/cart/add", method="POST", status=303, ip=A, visitor=KEPT),
                visit(day(0, 15).replace(minute=10), "/", ip=B, visitor=OTHER),  # seen before 15:00 too
                visit(day(0, 15).replace(minute=12), "/checkout", ip=D, visitor=GONE),
                visit(day(0, 15).replace(minute=20), "/", ip="192.0.2.99", visitor="new-after-three"),
            ]
        )
        db.session.commit()


def today_archive(app):
    with app.app_context():
        return db.session.get(VisitDay, utcnow().date())


def test_today_is_archived_up_to_the_hour_and_shows_what_its_visits_show(
    app, client, runner, monkeypatch, today_by_the_hour
):
    signed_in(app, client)
    pin_clock(monkeypatch, 0, 3)  # the first minutes of the day: today is counted from its visits alone
    archive(runner)
    live = dashboard(client)
    assert today_archive(app) is None
    assert per_day(live)[day(0).date().isoformat()] == ["8", "4", "4"]

    pin_clock(monkeypatch, 15, 30)
    assert dashboard(client) == live  # archived up to 15:00 by this view; the rest counted live
    archived = today_archive(app)
    assert archived.until == day(0, 15) and (archived.visits, archived.visitors, archived.ips) == (3, 3, 3)
    with app.app_context():
        assert db.session.scalar(select(VisitSpan.last)) == day(0).date()
    pin_clock(monkeypatch, 15, 50)
    assert dashboard(client) == live and today_archive(app).archived_at == archived.archived_at  # not again

    pin_clock(monkeypatch, 16, 4)  # within the settling minutes of 16:00: still up to 15:00
    assert dashboard(client) == live and today_archive(app).until == day(0, 15)
    pin_clock(monkeypatch, 16, 6)
    assert dashboard(client) == live and today_archive(app).until == day(0, 16)
    drop_archive(app)
    assert dashboard(client) == live  # what the visits alone come to


def test_a_visit_stored_late_for_an_hour_already_archived_today_is_counted(app, client, monkeypatch, today_by_the_hour):
    signed_in(app, client)
    pin_clock(monkeypatch, 15, 30)
    before = dashboard(client)
    assert today_archive(app).until == day(0, 15)

    store_rows(app, [late_visit(day(0, 15).replace(minute=25))])  # after 15:00: live, the archive stands
    assert today_archive(app).until == day(0, 15)
    after_three = dashboard(client)
    assert int(after_three["total-visits"]) == int(before["total-visits"]) + 1

    store_rows(app, [late_visit(day(0, 14).replace(minute=59))])  # before 15:00: the archive no longer holds
    late = dashboard(client)  # archived again by this view, with the late visit
    assert int(late["total-visits"]) == int(before["total-visits"]) + 2
    assert per_day(late)[day(0).date().isoformat()][0] == str(int(per_day(before)[day(0).date().isoformat()][0]) + 2)
    assert today_archive(app).visits == 4
    drop_archive(app)
    assert dashboard(client) == late


def test_an_erased_visitor_leaves_todays_figures_archived_up_to_the_hour(app, client, monkeypatch, today_by_the_hour):
    signed_in(app, client)
    pin_clock(monkeypatch, 15, 30)
    before = dashboard(client)
    assert today_archive(app).until == day(0, 15)
    with app.test_request_context():
        assert forget_browser(GONE).visits == 8
    after = dashboard(client)
    assert int(after["total-visits"]) == int(before["total-visits"]) - 8
    assert per_day(after)[day(0).date().isoformat()] == ["5", "3", "3"]
    drop_archive(app)
    assert dashboard(client) == after


def test_a_domain_outside_the_spans_top_ten_that_todays_visits_lift_into_it_is_shown(
    app, client, runner, monkeypatch, several_days
):
    """The default period's domains are read from its span's top and its figures for today's domains."""
    signed_in(app, client)
    with app.app_context():
        for n in range(12):  # twelve domains on finished days, the last the least visited
            for _ in range(14 - n):
                db.session.add(visit(day(4 + n % 3), "/", ip=C, domain=f"d{n:02}.example.org", confirmed=True))
        db.session.commit()
    pin_clock(monkeypatch, 0, 3)
    archive(runner)
    before = dashboard(client)
    assert ["d11.example.org", "3"] not in before["table-domains"]
    with app.app_context():
        for _ in range(12):
            db.session.add(visit(utcnow(), "/", ip=C, domain="d11.example.org", confirmed=True))
        db.session.commit()
    after = dashboard(client)
    assert after["table-domains"][0] == ["d11.example.org", "15"]
    drop_archive(app)
    assert dashboard(client) == after
