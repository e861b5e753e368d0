"""Hostile input at every route: arbitrary bytes and text in URLs, query strings, form fields,
cookies and headers (hypothesis).

For every input: never a 500, never an unescaped echo of a ``<x-probe-N>`` marker in an HTML
page, and after each batch the pages that show stored data still open. Oversized bodies get
413 on every POST route. The number of inputs tried per route is printed at the end
(``pytest -s``) and written to ``hostile-inputs.txt`` in pytest's temporary directory.
"""

import itertools
import json
import re
from collections import Counter
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.cart import product_id
from tests.support.forms import FORMS, form_data
from tests.support.pages import csrf_token_from
from tests.support.staff import create_staff, sign_in
from webshop.cookies import serializer
from webshop.db import db
from webshop.models import Submission
from webshop.visits import flush

# Examples per hypothesis run: wide on SQLite, a smaller sweep on PostgreSQL.
WIDE, NARROW = 15, 8

COUNTS: Counter = Counter()
PROBE = itertools.count(1)
PROBE_RE = re.compile(r"<x-probe-\d+")


def sweep_settings(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


COLUMNS = ["URL, query, body", "form fields", "cookies", "headers", "oversized", "stored-data check"]


def column_of(label: str) -> tuple[str, str]:
    """(route, kind of input) of a count label such as ``/board (board: message)``."""
    if label.startswith("(stored data) "):
        return label.removeprefix("(stored data) "), "stored-data check"
    route, _, detail = label.partition(" (")
    if not detail:
        return route, "URL, query, body"
    if detail.startswith("cookie "):
        return route, "cookies"
    if detail.startswith(("headers", "oversized")):
        return route, detail.rstrip(")")
    return route, "form fields"


def summary_table() -> str:
    """Inputs per route as a Markdown table, one column per kind of input."""
    table: dict[str, Counter] = {}
    for label, count in COUNTS.items():
        route, column = column_of(label)
        table.setdefault(route, Counter())[column] += count
    lines = ["| route | " + " | ".join(COLUMNS) + " | total |", "|---" * (len(COLUMNS) + 2) + "|"]
    for route in sorted(table):
        row = table[route]
        cells = [str(row[column]) if row[column] else "" for column in COLUMNS]
        lines.append(f"| `{route}` | " + " | ".join(cells) + f" | {sum(row.values())} |")
    lines.append("| **all routes** | " + " | ".join("" for _ in COLUMNS) + f" | {sum(COUNTS.values())} |")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module", autouse=True)
def report(tmp_path_factory):
    """Print and keep the number of hostile inputs tried per route."""
    yield
    if not COUNTS:
        return
    text = "Hostile inputs tried per route\n" + summary_table()
    path = tmp_path_factory.getbasetemp() / "hostile-inputs.txt"
    detail = "\n".join(f"{count:>6}  {label}" for label, count in sorted(COUNTS.items()))
    path.write_text(text + "\nBy input\n" + detail + "\n")
    print(f"\n{text}(with the count per field and cookie in {path})")


# --- What is thrown ------------------------------------------------------------------------------

NASTY = [
    "",
    " ",
    "\x00",
    "\r\n",
    "\u2028",
    "%00",
    "%",
    "../../etc/passwd",
    "..",
    "'; DROP TABLE submissions; --",
    '" onmouseover="x',
    "{{ 7*7 }}",
    "{% raw %}",
    "\ud7ff\ue000\uffff",
    "\U0001f4a9" * 50,
    "a" * 5000,
    "-1",
    "0",
    "99999999999999999999999",
    "1e309",
    "NaN",
    "null",
    "[]",
    "{}",
    "true",
]

# Any text a browser could send (no lone surrogates: they cannot be encoded as UTF-8 at all).
any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)


@st.composite
def probed(draw, base=any_text):
    """Hostile text carrying a fresh ``<x-probe-N>`` marker somewhere in it."""
    marker = f"<x-probe-{next(PROBE)}>"
    choice = draw(st.sampled_from(["alone", "around", "attribute", "nasty", "plain"]))
    if choice == "alone":
        return marker
    if choice == "around":
        return draw(base) + marker + draw(base)
    if choice == "attribute":
        return f"\"'>{marker}<script>x</script>"
    if choice == "nasty":
        return draw(st.sampled_from(NASTY)) + marker
    return draw(base)


hostile_value = st.one_of(probed(), st.sampled_from(NASTY))
raw_bytes = st.binary(max_size=300)


# A header value as a server hands it on: bytes read as Latin-1, without line breaks or NUL.
def as_header(text: str) -> str:
    return re.sub(r"[\r\n\x00]", "", text)


header_text = st.binary(max_size=200).map(lambda b: as_header(b.decode("latin-1")))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=10,
)


# --- Checking every answer --------------------------------------------------------------------------


def check(response, route: str):
    """No 5xx, no unescaped marker in HTML; count the input against ``route``."""
    COUNTS[route] += 1
    body = response.get_data().decode("utf-8", "replace")  # static files (the favicon) are bytes
    response.close()
    assert response.status_code < 500, f"{route}: {response.status_code}\n{body[:2000]}"
    if response.mimetype == "text/html":
        found = PROBE_RE.search(body)
        assert not found, f"{route}: unescaped {found.group(0)!r} in the page"
    return response


class Shop:
    """The app under attack, a staff member watching, and the pages that show stored data."""

    def __init__(self, app):
        self.app = app
        self.visitor = app.test_client()
        self.anonymous = app.test_client()
        create_staff(app)
        self.staff = app.test_client()
        assert sign_in(self.staff).status_code == 303
        self.token = csrf_token_from(self.visitor.get("/newsletter").get_data(as_text=True))
        self.staff_token = csrf_token_from(self.staff.get("/admin/notices").get_data(as_text=True))
        self.product = product_id(app)

    def client_for(self, rule):
        return self.staff if rule.rule.startswith("/admin") and rule.endpoint != "staff.login" else self.visitor

    def token_for(self, client):
        return self.staff_token if client is self.staff else self.token

    def fill_cart(self, client):
        with self.app.app_context():
            client.set_cookie("cart", serializer("cart").dumps([[self.product, 1]]))

    def stored_pages_still_open(self):
        """The pages that display what was stored: each opens, and escapes what it shows."""
        flush(self.app)
        pages = [(self.anonymous, "/board"), (self.anonymous, "/chat"), (self.anonymous, "/chat/messages")]
        pages += [(self.anonymous, "/my-data"), (self.visitor, "/my-data")]
        pages += [(self.staff, path) for path in ("/admin/", "/admin/visits", "/admin/submissions", "/admin/outbox")]
        with self.app.app_context():
            kinds = db.session.execute(db.select(Submission.kind).distinct()).scalars().all()
            visitors = (
                db.session.execute(db.select(Submission.visitor_id).where(Submission.visitor_id.is_not(None)).limit(3))
                .scalars()
                .all()
            )
        pages += [(self.staff, f"/admin/submissions/{kind}") for kind in kinds]
        pages += [(self.staff, f"/admin/visitors/{quote(visitor, safe='')}") for visitor in visitors]
        for client, path in pages:
            response = client.get(path)
            assert response.status_code == 200, f"{path}: {response.status_code}"
            check(response, f"(stored data) {path}")


@pytest.fixture
def shop(app):
    return Shop(app)


def url_of(rule, values: dict) -> str:
    url = rule.rule
    for name in values:
        url = re.sub(rf"<(?:[^:<>]+:)?{name}>", quote(values[name], safe=""), url)
    return url


def path_values(rule):
    """Hostile text for each variable of ``rule``, and sometimes a well-formed value."""
    values = {}
    for name in sorted(rule.arguments - set(rule.defaults or ())):  # e.g. /favicon.ico fixes its filename
        converter = type(rule._converters[name]).__name__
        choices = [probed(), st.sampled_from(NASTY)]
        if converter == "IntegerConverter":
            choices.append(st.integers(min_value=0, max_value=10**30).map(str))
        if converter == "UUIDConverter":
            choices.append(st.uuids().map(str))
        values[name] = st.one_of(*choices)
    return st.fixed_dictionaries(values)


def sweep_rules(app):
    return sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint != "staff.logout"),
        key=lambda rule: rule.rule,
    )


# --- Every route: URL variables, query strings, arbitrary form bodies -------------------------------------


def sweep_routes(shop, examples):
    for rule in sweep_rules(shop.app):
        attack_route(shop, rule, examples)
        shop.stored_pages_still_open()


def attack_route(shop, rule, examples):
    client = shop.client_for(rule)
    methods = sorted(rule.methods & {"GET", "POST"})

    @sweep_settings(examples)
    @given(
        values=path_values(rule),
        query=st.one_of(raw_bytes.map(lambda b: b.decode("latin-1")), probed().map(lambda t: "q=" + quote(t))),
        method=st.sampled_from(methods),
        form=st.dictionaries(
            st.one_of(any_text, st.sampled_from(["email", "name", "message"])), hostile_value, max_size=6
        ),
        with_token=st.booleans(),
    )
    def attack(values, query, method, form, with_token):
        url = url_of(rule, values)
        raw_query = {"QUERY_STRING": query}  # as a server hands it on: bytes read as Latin-1
        if method == "GET":
            check(client.get(url, environ_overrides=raw_query), rule.rule)
            return
        if with_token:
            form = {**form, "csrf_token": shop.token_for(client)}
        check(client.post(url, environ_overrides=raw_query, data=form), rule.rule)

    attack()


@pytest.mark.only_database("sqlite")
def test_every_route_survives_hostile_urls_query_strings_and_form_bodies(shop):
    sweep_routes(shop, WIDE)


@pytest.mark.only_database("postgresql")
def test_every_route_survives_hostile_urls_query_strings_and_form_bodies_on_postgresql(shop):
    sweep_routes(shop, NARROW)


# --- Every form, one field at a time with the others valid ------------------------------------------------


def form_cases(shop):
    """(name, page, action, good data, needs cart, client) for every form a visitor can send."""
    app = shop.app
    cases = [(case.kind, case.url, case.url, form_data(app, case), case.needs_cart, shop.visitor) for case in FORMS]
    line = {"product_id": str(shop.product), "quantity": "1"}
    cases += [
        ("cart add", "/cart", "/cart/add", line, False, shop.visitor),
        ("cart update", "/cart", "/cart/update", line, True, shop.visitor),
        ("consent", "/", "/consent", {"next": "/", "choice": "accept"}, False, shop.visitor),
        ("my-data link", "/my-data", "/my-data/link", {"email": "jane@example.org"}, False, shop.visitor),
        ("staff sign-in", "/admin/login", "/admin/login", {"name": "bob", "password": "x" * 12}, False, shop.anonymous),
        ("staff notice", "/admin/notices", "/admin/notices", {"subject": "News", "body": "Hello"}, False, shop.staff),
        ("staff export", "/admin/export", "/admin/export", {"recipient": "1", "purpose": "Offers"}, False, shop.staff),
        (
            "staff recipient",
            "/admin/recipients",
            "/admin/recipients",
            {"name": "Partner Ltd", "kind": "third party", "description": "Mails offers"},
            False,
            shop.staff,
        ),
    ]
    return cases


def sweep_form_fields(shop, examples):
    for case in form_cases(shop):
        for field in [*case[3], "no_marketing", "no_share"]:
            attack_field(shop, case, field, examples)
        shop.stored_pages_still_open()


def attack_field(shop, case, field, examples):
    name, page, action, good, needs_cart, client = case

    @sweep_settings(examples)
    @given(value=st.one_of(hostile_value, st.lists(hostile_value, min_size=2, max_size=3)))
    def attack(value):
        if needs_cart:
            shop.fill_cart(client)
        html = client.get(page).get_data(as_text=True)
        token = csrf_token_from(html) if "csrf_token" in html else shop.token_for(client)
        data = {**good, field: value, "csrf_token": token}
        check(client.post(action, data=data), f"{action} ({name}: {field})")

    attack()


@pytest.mark.only_database("sqlite")
def test_every_form_field_survives_hostile_values_with_the_others_valid(shop):
    sweep_form_fields(shop, WIDE)


@pytest.mark.only_database("postgresql")
def test_every_form_field_survives_hostile_values_on_postgresql(shop):
    sweep_form_fields(shop, NARROW)


# --- Cookies ------------------------------------------------------------------------------------------------

COOKIE_PAGES = ["/", "/cart", "/checkout", "/my-data", "/newsletter", "/chat", "/privacy", "/admin/"]


def cookie_value(shop, name):
    """Arbitrary bytes, hostile text, or (for the shop's own cookies) a validly signed odd payload."""
    choices = [header_text, probed()]
    purpose = {"cart": "cart", "consent": "consent", "visitor": "visitor"}.get(name)
    if purpose:

        def signed(payload):
            with shop.app.app_context():
                return serializer(purpose).dumps(payload)

        choices.append(json_values.map(signed))
    return st.one_of(*choices)


def sweep_cookies(shop, examples):
    for name in ("cart", "consent", "visitor", "session"):
        attack_cookie(shop, name, examples)
    shop.stored_pages_still_open()


def attack_cookie(shop, name, examples):
    @sweep_settings(examples)
    @given(value=cookie_value(shop, name), path=st.sampled_from(COOKIE_PAGES), post=st.booleans())
    def attack(value, path, post):
        client = shop.app.test_client()
        headers = {"Cookie": as_header(f"{name}={value}")}
        if post:
            data = {"product_id": str(shop.product), "quantity": "1", "csrf_token": shop.token}
            check(client.post("/cart/add", data=data, headers=headers), f"/cart/add (cookie {name})")
        else:
            check(client.get(path, headers=headers), f"{path} (cookie {name})")

    attack()


@pytest.mark.only_database("sqlite")
def test_hostile_cookies_become_empty_values_never_errors(shop):
    sweep_cookies(shop, WIDE * 4)


# --- Headers ------------------------------------------------------------------------------------------------

HEADER_PAGES = ["/", "/cart", "/privacy", "/my-data", "/board", "/chat", "/newsletter", "/.well-known/gpc.json"]


@st.composite
def hostile_headers(draw):
    headers = {}
    for name in ("X-Forwarded-For", "Sec-GPC", "DNT", "Host", "Referer", "Accept-Language"):
        if draw(st.booleans()):
            headers[name] = draw(st.one_of(header_text, st.sampled_from(["1", "0", "1, 1", "garbage", ""])))
    if draw(st.booleans()):
        headers["User-Agent"] = f"<x-probe-{next(PROBE)}>" + draw(header_text) + "U" * 10_240
    if draw(st.booleans()):
        headers["Referer"] = f"https://example.org/<x-probe-{next(PROBE)}>" + draw(header_text)
    return headers


def sweep_headers(shop, examples):
    case = next(case for case in FORMS if case.kind == "board")

    @sweep_settings(examples)
    @given(headers=hostile_headers(), path=st.sampled_from(HEADER_PAGES), post=st.booleans())
    def attack(headers, path, post):
        client = shop.app.test_client()
        if post:  # a submission carrying the headers, so its stored context is shown later
            page = check(client.get(case.url, headers=headers), f"{case.url} (headers)")
            if "Host" in headers and page.status_code == 400:
                return  # a Host the shop does not serve: refused before the form is shown
            token = csrf_token_from(page.get_data(as_text=True))
            data = {"csrf_token": token, **form_data(shop.app, case)}
            check(client.post(case.url, data=data, headers=headers), f"{case.url} (headers)")
        else:
            check(client.get(path, headers=headers), f"{path} (headers)")

    attack()
    shop.stored_pages_still_open()


@pytest.mark.only_database("sqlite")
@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": 1}])
def test_hostile_headers_never_break_a_page_or_the_visit_log(shop):
    sweep_headers(shop, WIDE * 8)


@pytest.mark.only_database("postgresql")
@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": 1}])
def test_hostile_headers_on_postgresql(shop):
    sweep_headers(shop, WIDE * 2)


# --- Oversized bodies -------------------------------------------------------------------------------------


def test_oversized_bodies_get_413_on_every_post_route(shop):
    limit = shop.app.config["MAX_CONTENT_LENGTH"]
    rules = [rule for rule in sweep_rules(shop.app) if "POST" in rule.methods]
    assert rules
    for rule in rules:
        client = shop.client_for(rule)
        url = url_of(rule, {name: "1" for name in rule.arguments})
        bodies = [
            (
                "application/x-www-form-urlencoded",
                b"csrf_token=" + shop.token_for(client).encode() + b"&a=" + b"x" * limit,
            ),
            (
                "multipart/form-data; boundary=b",
                b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n" + b"x" * limit,
            ),
            ("application/json", json.dumps({"a": "x" * limit}).encode()),
        ]
        for content_type, body in bodies:
            response = client.post(url, data=body, content_type=content_type)
            check(response, f"{rule.rule} (oversized)")
            assert response.status_code == 413, f"{rule.rule} {content_type}: {response.status_code}"
