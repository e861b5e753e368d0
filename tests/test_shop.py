"""The storefront pages and the demo catalogue."""

import re
import threading
from http.cookies import SimpleCookie

from sqlalchemy import event

from tests.support.cart import product_id
from tests.support.pages import csrf_token_from
from tests.support.staff import PASSWORD, create_staff
from webshop.catalogue import seed_catalogue
from webshop.db import db
from webshop.models import Category, Product


def test_init_db_seeds_a_catalogue_once(runner, app):
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert "0 products added" in result.output  # the template database was already seeded
    with app.app_context():
        products = db.session.execute(db.select(Product)).scalars().all()
        categories = db.session.execute(db.select(Category)).scalars().all()
        assert len(products) >= 24 and len(categories) >= 4
        assert all(isinstance(p.price_cents, int) and p.price_cents > 0 for p in products)
        assert seed_catalogue() == 0


def test_home_lists_departments_and_products(client):
    page = client.get("/").get_data(as_text=True)
    for name in ["Phones", "Laptops", "Audio", "Cameras", "Wearables", "Accessories"]:
        assert name in page
    assert page.count('class="card"') >= 8
    assert "<svg" in page  # pictures are drawn inline, nothing downloaded


def test_category_lists_only_its_products(client):
    page = client.get("/category/audio").get_data(as_text=True)
    assert "Hush ANC Headphones" in page and "Aurora X1 Phone" not in page
    assert client.get("/category/nothing-here").status_code == 404


def test_product_page_shows_price_picture_and_add_form(client):
    page = client.get("/product/lumen-m50").get_data(as_text=True)
    assert "Lumen M50 Camera" in page and "€899.00" in page
    assert 'aria-label="Drawing of Lumen M50 Camera"' in page
    assert 'action="/cart/add"' in page and '<label for="quantity">' in page


def test_the_product_page_reads_its_product_and_category_in_one_query(app, client):
    client.get("/product/lumen-m50")  # the consent and cart state of a first visit are settled
    request_thread = threading.get_ident()  # the visit writer inserts on a thread of its own
    statements = []

    def note(_conn, _cursor, statement, *_args):
        if threading.get_ident() == request_thread and re.search(r"\bFROM (product|category)\b", statement):
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        page = client.get("/product/lumen-m50").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert 'href="/category/cameras">Cameras</a>' in page
    assert len(statements) == 1 and "JOIN category" in statements[0]


def test_withdrawn_product_page_is_gone(client, app):
    with app.app_context():
        product = db.session.execute(db.select(Product).where(Product.slug == "tempo-kids")).scalar_one()
        product.active = False
        db.session.commit()
    assert client.get("/product/tempo-kids").status_code == 404
    assert "Tempo Kids" not in client.get("/category/wearables").get_data(as_text=True)


def test_search_by_name_is_case_insensitive_and_escapes_wildcards(client):
    page = client.get("/search?q=AURORA").get_data(as_text=True)
    assert "Aurora X1 Phone" in page and "Aurora X1 Mini" in page and "2 results" in page
    assert "0 results" in client.get("/search?q=%25").get_data(as_text=True)
    assert "0 results" in client.get("/search?q=_").get_data(as_text=True)


def test_search_echo_is_escaped(client):
    page = client.get("/search?q=<script>alert(1)</script>").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


def test_policy_has_one_section_per_clause_with_its_id_as_anchor(client):
    from webshop.policy_text import CLAUSE_IDS

    page = client.get("/privacy").get_data(as_text=True)
    for clause in [
        "collect-ip",
        "combine",
        "where-submitted",
        "cookies",
        "uses",
        "sharing",
        "opt-out",
        "other-sources",
        "access",
        "consent",
        "blocking",
        "contact",
    ]:
        assert clause in CLAUSE_IDS
        assert f'<section id="{clause}"' in page


def cookies_set_by(response) -> dict[str, dict]:
    """The cookies a response sets, each with its attributes as the browser reads them."""
    found = {}
    for header in response.headers.getlist("Set-Cookie"):
        jar = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            found[name] = {"max-age": morsel["max-age"], "expires": morsel["expires"]}
    return found


def lifetime_days(text: str) -> int | None:
    """The number of days a registered lifetime text promises, or None for a browser session."""
    if text.startswith("Until you close the browser"):
        return None
    if text.startswith("1 year"):
        return 365
    match = re.match(r"(\d+) days\b", text)
    assert match, f"lifetime {text!r} names no period"
    return int(match.group(1))


def test_the_cookies_real_responses_set_are_the_registered_ones_with_their_lifetimes(app, client):
    """Every cookie the shop sets, collected from its responses, against what the policy's table says."""
    from webshop.cookies import REGISTRY

    seen = {}

    def send(method, url, **kwargs):
        response = client.open(url, method=method, **kwargs)
        seen.update(cookies_set_by(response))
        return response

    def post_form(page_url, data, action=None):
        token = csrf_token_from(send("GET", page_url).get_data(as_text=True))
        return send("POST", action or page_url, data={"csrf_token": token, **data})

    assert post_form("/", {"next": "/", "choice": "accept"}, action="/consent").status_code == 303  # the banner's "OK"
    hush = product_id(app, "hush-anc")
    assert post_form("/product/hush-anc", {"product_id": hush, "quantity": 1}, action="/cart/add").status_code == 303
    create_staff(app)
    assert post_form("/admin/login", {"name": "alice", "password": PASSWORD}).status_code == 303

    assert set(seen) == set(REGISTRY)
    table = client.get("/privacy").get_data(as_text=True)
    for name, attributes in seen.items():
        spec = REGISTRY[name]
        days = lifetime_days(spec.lifetime)
        if days is None:
            assert attributes == {"max-age": "", "expires": ""}, name
        else:
            assert attributes["max-age"] == str(days * 86400), name
        assert f"<code>{name}</code>" in table and spec.lifetime in table
