"""The dashboard, visit log, visitor profile, survey summary and moderation against hand-counted rows;
and the "popular now" shelf."""

import html as html_text
import re
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func

from tests.support.pages import csrf_token_from, element_text
from tests.support.staff import signed_in, submission, visit
from webshop.db import db
from webshop.models import AuditEvent, BoardPost, Order, Product, Visit, utcnow
from webshop.popular import CACHE_KEY
from webshop.staff import visitlog
from webshop.submissions import FORM_KINDS
from webshop.visits import flush

A, B, C = "192.0.2.10", "198.51.100.20", "203.0.113.30"


@pytest.fixture
def app_config():
    return {"VISITS_ENABLED": False}


def day(days_ago: int, hour: int = 12) -> datetime:
    return datetime.combine(utcnow().date() - timedelta(days=days_ago), time(hour))


@pytest.fixture
def counted(app):
    """Visits and submissions whose figures are counted by hand in the tests below."""
    d1, d2 = day(2), day(1)
    near = {"domain": "host.example.net", "confirmed": True, "ip": A, "visitor": "v1"}
    with app.app_context():
        db.session.add_all(
            [
                visit(d1, "/", **near),
                visit(d1, "/product/hush-anc", **near),
                visit(d1, "/cart/add", method="POST", status=303, **near),
                visit(d1, "/checkout", **near),
                visit(d2, "/", ip=B, visitor="v2", domain="other.example.com", confirmed=True),
                visit(d2, "/", ip=B, visitor="v2", domain="unconfirmed.example", confirmed=False),
                visit(d2, "/", blocking=True),
                visit(d2, "/product/hush-anc", blocking=True),
                visit(d2, "/cart/add", method="POST", status=303, ip=C),
                visit(d2, "/missing", status=404, ip=B, visitor="v2"),
                visit(d2, "/admin/", ip=B),  # staff pages are left out
                visit(day(40), "/", ip=C),  # outside the default 30 days
            ]
        )
        order_signup = submission("order", "ann@example.org", name="Ann", visitor_id="v1", created_at=d1)
        db.session.add_all(
            [
                order_signup,
                submission("order", "ben@example.org", no_marketing=True, created_at=d2),
                submission("contact", "cat@example.org", no_marketing=True, no_share=True, created_at=d2),
                submission("contact", "old@example.org", no_share=True, created_at=day(40)),
                submission("survey", None, no_share=True, erased_at=d2, created_at=d2),
            ]
        )
        db.session.flush()
        db.session.add(Order(number="WS-1", submission_id=order_signup.id, total_cents=100, created_at=d1))
        db.session.commit()
        return {"d1": d1.date().isoformat(), "d2": d2.date().isoformat(), "order_submission": order_signup.id}


def rows(html: str, table_id: str) -> list[list[str]]:
    table = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    ]


def test_dashboard_numbers_match_the_hand_count(app, client, counted):
    signed_in(app, client)
    html = client.get("/admin/").get_data(as_text=True)
    assert element_text(html, "total-visits") == "10"
    assert element_text(html, "total-visitors") == "2"
    assert element_text(html, "total-ips") == "3"
    assert element_text(html, "total-blocking") == "2 (20.0 %)"
    days = {r[0]: r[1:] for r in rows(html, "table-days")}
    assert len(days) == 30
    assert days[counted["d1"]] == ["4", "1", "1"]
    assert days[counted["d2"]] == ["6", "1", "2"]
    assert rows(html, "table-domains") == [["host.example.net", "4"], ["other.example.com", "1"]]
    assert rows(html, "table-pages") == [["/", "4"], ["/product/hush-anc", "2"], ["/checkout", "1"]]
    assert rows(html, "table-funnel") == [
        ["Added to cart", "2", "100.0 %"],
        ["Opened checkout", "1", "50.0 %"],
        ["Placed an order", "1", "50.0 %"],
    ]
    optouts = {r[0]: r[1:] for r in rows(html, "table-optouts")}
    assert optouts[FORM_KINDS["order"].service] == ["2", "1 (50.0 %)", "0 (0.0 %)"]
    assert optouts[FORM_KINDS["contact"].service] == ["1", "1 (100.0 %)", "1 (100.0 %)"]
    assert optouts[FORM_KINDS["survey"].service] == ["0", "0 (0.0 %)", "0 (0.0 %)"]
    for chart in ("visits", "unique", "domains", "pages", "funnel", "no-marketing", "no-share", "blocking"):
        assert f'<svg class="chart" id="chart-{chart}"' in html
    assert "style=" not in html


def test_date_range_narrows_and_bad_dates_get_a_message(app, client, counted):
    signed_in(app, client)
    one_day = client.get(f"/admin/?from={counted['d2']}&to={counted['d2']}").get_data(as_text=True)
    assert element_text(one_day, "total-visits") == "6"
    assert len(rows(one_day, "table-days")) == 1
    for query, message in [
        ("from=yesterday", "The start date must look like 2025-01-31"),
        ("to=2025-02-30", "The end date must look like 2025-01-31"),
        ("from=2025-03-02&to=2025-03-01", "The start date is after the end date."),
        ("from=2020-01-01&to=2025-01-01", "Choose at most 366 days."),
    ]:
        response = client.get(f"/admin/?{query}")
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)


def test_the_chats_background_updates_count_as_visits_but_not_as_page_views(app, client):
    with app.app_context():
        db.session.add_all([visit(day(1), "/chat/messages", ip=A) for _ in range(30)] + [visit(day(1), "/chat", ip=A)])
        db.session.commit()
    signed_in(app, client)
    html = client.get("/admin/").get_data(as_text=True)
    assert element_text(html, "total-visits") == "31"
    assert rows(html, "table-pages") == [["/chat", "1"]]
    log = client.get("/admin/visits?path=/chat/messages").get_data(as_text=True)
    assert log.count("/chat/messages</") >= 25  # every poll stays in the visit log


def test_visit_log_filters_sorts_and_pages(app, client, counted, monkeypatch):
    signed_in(app, client)

    def paths(query):
        html = client.get(f"/admin/visits?{query}").get_data(as_text=True)
        return [r[4] for r in rows(html, "visit-log") if len(r) == 8]

    assert sorted(paths(f"ip={B}")) == ["/", "/", "/admin/", "/missing"]
    assert paths("visitor=v1&sort=path&dir=asc") == ["/", "/cart/add", "/checkout", "/product/hush-anc"]
    assert paths("domain=example.com") == ["/"]
    assert sorted(paths("path=/product")) == ["/product/hush-anc", "/product/hush-anc"]
    assert len(paths(f"from={counted['d2']}&to={counted['d2']}")) == 7
    assert len(paths("sort=nonsense;drop")) == 12
    assert client.get("/admin/visits?from=31/12/2025").status_code == 400

    monkeypatch.setattr(visitlog, "PER_PAGE", 5)
    first = client.get("/admin/visits?visitor=v1&sort=time").get_data(as_text=True)
    assert "page 1 of 1" not in first
    monkeypatch.setattr(visitlog, "PER_PAGE", 3)
    first = client.get("/admin/visits?ip=" + A).get_data(as_text=True)
    assert "page 1 of 2" in first and 'rel="next"' in first
    second = client.get(f"/admin/visits?ip={A}&page=2").get_data(as_text=True)
    assert len(rows(second, "visit-log")) == 1
    assert 'href="/admin/visitors/v1"' in first


# Paths a shop may log (typed by anyone), and prefixes staff may type: wildcards of LIKE, its escape
# character, case, accents and other scripts, and the highest character there is.
LOGGED_PATHS = [
    "/", "/checkout", "/checkout/done", "/Checkout", "/check", "/checkouu", "/100%", "/100%25", "/100x",
    "/a_b", "/axb", "/a\\b", "/a\\\\b", "/café", "/caf", "/cafe", "/cafés", "/日本/東京", "/日本", "/日",
    "/z\U0010ffff", "/z\U0010ffff/more", "/{", "%odd", "_odd", "\U0010ffff", "/\ud7ff", "/\ud7ffx", "/\ue000",
]  # fmt: skip
TYPED_PREFIXES = [
    "/", "%", "_", "/100%", "/a_", "/a\\", "/checkout", "/Checkout", "/CHECKOUT", "/caf", "/café", "/日本",
    "/z\U0010ffff", "\U0010ffff", "/z", "/\ud7ff",
]  # fmt: skip


def test_the_path_filter_returns_exactly_the_visits_whose_path_starts_with_what_was_typed(app, client):
    with app.app_context():
        db.session.add_all(visit(day(1), path) for path in LOGGED_PATHS)
        db.session.commit()
    signed_in(app, client)
    for prefix in TYPED_PREFIXES:
        page = client.get("/admin/visits", query_string={"path": prefix, "sort": "path", "dir": "asc"})
        shown = [html_text.unescape(r[4]) for r in rows(page.get_data(as_text=True), "visit-log") if len(r) == 8]
        assert shown == sorted(p for p in LOGGED_PATHS if p.startswith(prefix)), prefix


def test_visit_log_counts_matches_up_to_a_limit_and_still_pages_past_it(app, client, monkeypatch):
    """A loose filter is not counted to the end: the page says "more than" and every match stays reachable."""
    with app.app_context():
        db.session.add_all([visit(day(1, hour), f"/p{hour}", ip=C) for hour in range(7)])
        db.session.commit()
    signed_in(app, client)
    monkeypatch.setattr(visitlog, "COUNT_LIMIT", 4)
    monkeypatch.setattr(visitlog, "PER_PAGE", 3)
    seen = []
    for number in (1, 2, 3):
        html = client.get(f"/admin/visits?ip={C}&page={number}").get_data(as_text=True)
        assert f"More than 4 visits match; page {number}." in html
        seen += [r[4] for r in rows(html, "visit-log") if len(r) == 8]
        assert ('rel="next"' in html) == (number < 3)
    assert seen == [f"/p{hour}" for hour in reversed(range(7))]
    html = client.get(f"/admin/visits?ip={C}&path=/p1").get_data(as_text=True)
    assert "1 visits match." in html and 'rel="next"' not in html


def test_visitor_profile_combines_visits_addresses_and_submissions(app, client, counted):
    signed_in(app, client)
    html = client.get("/admin/visitors/v1").get_data(as_text=True)
    assert rows(html, "addresses")[0][:2] == [A, "host.example.net"]
    assert rows(html, "addresses")[0][4] == "4"
    assert len(rows(html, "visitor-visits")) == 4
    [signup] = rows(html, "visitor-submissions")
    assert signup[1:4] == [FORM_KINDS["order"].service, "ann@example.org", "Ann"]
    assert client.get("/admin/visitors/nobody").status_code == 404
    with app.app_context():
        [event] = db.session.execute(db.select(AuditEvent).where(AuditEvent.action == "view_visitor_profile")).scalars()
        assert event.actor == "staff:alice"
        assert event.detail == {"visits": 4, "submission_ids": [counted["order_submission"]]}


def test_survey_results_are_summarised_with_counts_and_percentages(app, client):
    with app.app_context():
        for rating, shopped, found in [
            (5, ["audio"], "friend"),
            (5, ["audio", "cameras"], "search"),
            (4, [], "friend"),
        ]:
            db.session.add(
                submission("survey", None, fields={"rating": rating, "shopped_for": shopped, "found_us": found})
            )
        db.session.commit()
    signed_in(app, client)
    html = client.get("/admin/submissions/survey").get_data(as_text=True)
    assert "3 respondents." in html
    ratings = {r[0]: r[1:] for r in rows(html, "survey-q1")}
    assert ratings["5 — excellent"] == ["2", "66.7 %"] and ratings["4 — good"] == ["1", "33.3 %"]
    assert ratings["1 — very poor"] == ["0", "0.0 %"]
    shopped = {r[0]: r[1:] for r in rows(html, "survey-q2")}
    assert shopped["Audio"] == ["2", "66.7 %"] and shopped["Cameras"] == ["1", "33.3 %"]
    found = {r[0]: r[1:] for r in rows(html, "survey-q3")}
    assert found["A friend or colleague"] == ["2", "66.7 %"]
    assert '<svg class="chart" id="chart-q1"' in html


def test_staff_hide_and_restore_a_board_post_with_an_audit_line(app, client):
    with app.app_context():
        post_submission = submission("board", "pat@example.org", name="Pat")
        db.session.add(BoardPost(submission=post_submission, display_name="Pat", body="Buy cheap pills"))
        db.session.commit()
        post_id = db.session.execute(db.select(BoardPost.id)).scalar_one()
    assert "Buy cheap pills" in client.get("/board").get_data(as_text=True)
    signed_in(app, client)
    page = client.get("/admin/submissions/board").get_data(as_text=True)
    token = csrf_token_from(page)
    assert client.post(f"/admin/moderation/board/{post_id}", data={"action": "hide"}).status_code == 400
    hidden = client.post(f"/admin/moderation/board/{post_id}", data={"action": "hide", "csrf_token": token})
    assert hidden.status_code == 303
    assert "Buy cheap pills" not in client.get("/board").get_data(as_text=True)
    assert "Restore" in client.get("/admin/submissions/board").get_data(as_text=True)
    client.post(f"/admin/moderation/board/{post_id}", data={"action": "restore", "csrf_token": token})
    assert "Buy cheap pills" in client.get("/board").get_data(as_text=True)
    with app.app_context():
        actions = db.session.execute(
            db.select(AuditEvent.action, AuditEvent.detail).where(AuditEvent.action.like("%_board"))
        ).all()
        assert [a for a, _ in actions] == ["hide_board", "restore_board"]
        assert all(set(detail) == {"item_id", "submission_id"} for _, detail in actions)


# --- "Popular now" ---------------------------------------------------------------------------


def shelf(client) -> list[str]:
    html = client.get("/").get_data(as_text=True)
    section = re.search(r'<section aria-labelledby="popular-title".*?</section>', html, re.S)
    return re.findall(r'href="/product/([^"]+)"', section.group(0)) if section else []


def test_popular_shelf_ranks_recent_product_visits_without_blocking_ones(app, client):
    with app.app_context():
        first, second, third = db.session.execute(
            db.select(Product.slug).where(Product.active.is_(True)).order_by(Product.id).limit(3)
        ).scalars()
        now = utcnow()
        db.session.add_all(
            [visit(now, f"/product/{second}") for _ in range(3)]
            + [visit(now, f"/product/{first}") for _ in range(2)]
            + [visit(now, f"/product/{third}", blocking=True) for _ in range(5)]  # not counted
            + [visit(now, f"/product/{third}", status=404) for _ in range(5)]  # not a product view
            + [visit(now - timedelta(days=8), f"/product/{third}") for _ in range(5)]  # too old
            + [visit(now, f"/product/{third}", method="POST") for _ in range(5)]
        )
        db.session.commit()
    assert shelf(client) == [second, first]

    with app.app_context():  # the ranking is cached: new visits show once it goes stale
        db.session.add_all([visit(utcnow(), f"/product/{third}") for _ in range(4)])
        db.session.commit()
    assert shelf(client) == [second, first]
    app.extensions[CACHE_KEY].expires = 0
    assert shelf(client) == [third, second, first]


def test_popular_shelf_is_absent_without_visits(client):
    assert shelf(client) == []


class TestTopPagesFromRealRequests:
    """Pages counted from requests the shop really answered, recorded by the visit writer."""

    @pytest.fixture
    def app_config(self):
        return {"VISITS_ENABLED": True}

    def test_text_typed_into_addresses_never_reaches_top_pages(self, app, client):
        message = "staff-urgent: call 555-0100"
        visitor = app.test_client()
        for _ in range(40):
            assert visitor.get(f"/product//{message}").status_code == 308
        for prefix in ("/", "/product/", "/newsletter/confirm/", "/newsletter/unsubscribe/", "/my-data/open/"):
            for _ in range(5):
                visitor.get(prefix + message)
        visitor.get("/product/hush-anc")
        flush(app)
        with app.app_context():  # the attack is in the visit log, as every request is
            assert db.session.execute(db.select(func.count()).where(Visit.path.contains("555-0100"))).scalar_one() > 40
        signed_in(app, client)
        html = client.get("/admin/").get_data(as_text=True)
        pages = rows(html, "table-pages")
        assert "555-0100" not in html
        assert ["/product/hush-anc", "1"] in pages
        assert all(not label.startswith("/product//") for label, _ in pages)
