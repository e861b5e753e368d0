"""Counts read as English and product names never break between a number and its unit."""

import re

from tests.support.pages import submit
from webshop.text import plural


def test_counts_are_singular_for_one_and_plural_otherwise():
    assert [plural(n, "visit") for n in (0, 1, 2)] == ["0 visits", "1 visit", "2 visits"]
    assert plural(1, "newsletter subscription") == "1 newsletter subscription"
    assert plural(3, "entry", "entries") == "3 entries"


def test_a_number_and_its_unit_stay_on_one_line_wherever_the_name_is_shown(client):
    product = client.get("/product/braid-usb-c-2m").get_data(as_text=True)
    assert "<h1>Braided USB-C Cable 2&nbsp;m</h1>" in product
    line = {"product_id": product_id_from(product), "quantity": 1}
    submit(client, "/product/braid-usb-c-2m", line, action="/cart/add")
    assert "Braided USB-C Cable 2&nbsp;m</a>" in client.get("/cart").get_data(as_text=True)
    assert ">GaN Charger 65&nbsp;W<" in client.get("/search?q=charger").get_data(as_text=True)


def test_the_policy_says_one_visit_is_stored_not_one_visits(client):
    page = client.get("/privacy").get_data(as_text=True)
    assert "(s)" not in page
    assert "1 records" not in page and "1 visits" not in page and "1 views" not in page


def product_id_from(page: str) -> str:
    return re.search(r'name="product_id" type="hidden" value="(\d+)"', page).group(1)
