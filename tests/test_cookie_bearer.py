"""The visitor cookie is a bearer credential: what a copy of it opens is shortened, and the pages say so.

Whoever copies ``visitor`` and ``consent`` into another browser is that
browser to the shop. Behind those cookies alone, "your data" and the policy's
evidence show IP addresses only as their network and nothing typed; the
full record stays behind the link mailed to the address.
"""

import re

import pytest

from tests.support.forms import FORMS, send
from tests.support.my_data import JANE, open_access
from tests.support.pages import acknowledge_banner

OWNER_IP = "203.0.113.45"
ADDRESSES = [(OWNER_IP, "203.0.113.0/24"), ("2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:db8:85a3::/48")]
THIEF_IP = "198.51.100.7"
SEARCH = "hemorrhoid cream"
MESSAGE = "Please ring my mobile 0400 555 123 about my order"
RECEIPT_LINK = re.compile(r'href="(/receipt/[0-9a-f-]{36})"')


def owner_with_history(app, ip=OWNER_IP):
    """A browser that searched and sent a message, from an address of its own."""
    owner = app.test_client()
    owner.environ_base.update({"REMOTE_ADDR": ip})
    acknowledge_banner(owner)
    assert owner.get("/search", query_string={"q": SEARCH}).status_code == 200
    contact = next(case for case in FORMS if case.kind == "contact")
    assert send(owner, app, contact, message=MESSAGE).status_code == 303
    return owner


def copy_of(app, owner):
    """Another browser, elsewhere, holding copies of the owner's visitor and consent cookies."""
    thief = app.test_client()
    thief.environ_base.update({"REMOTE_ADDR": THIEF_IP})
    for name in ("visitor", "consent"):
        thief.set_cookie(name, owner.get_cookie(name).value)
    return thief


def typed_text_in(html: str, ip: str) -> list[str]:
    forms = (SEARCH, SEARCH.replace(" ", "+"), SEARCH.replace(" ", "%20"), MESSAGE, ip)
    return [text for text in forms if text in html]


@pytest.mark.parametrize(("ip", "network"), ADDRESSES, ids=["ipv4", "ipv6"])
def test_copied_cookies_show_no_full_ip_and_no_typed_text(app, ip, network):
    thief = copy_of(app, owner_with_history(app, ip))
    pages = {url: thief.get(url) for url in ("/my-data", "/privacy", "/privacy/tour")}
    for url, page in pages.items():
        html = page.get_data(as_text=True)
        assert page.status_code == 200, url
        assert typed_text_in(html, ip) == [], url
    for url in ("/my-data", "/privacy"):
        html = pages[url].get_data(as_text=True)
        assert network in html and "GET /search?…" in html, url  # the visits are listed, shortened
    receipts = RECEIPT_LINK.findall(pages["/privacy"].get_data(as_text=True))
    assert receipts  # the owner's submission is listed, with its receipt
    for receipt in receipts:
        for url in (receipt, receipt + ".json"):
            assert typed_text_in(thief.get(url).get_data(as_text=True), ip) == [], url


def test_the_pages_say_the_cookie_is_a_key(app):
    thief = copy_of(app, owner_with_history(app))
    my_data = thief.get("/my-data").get_data(as_text=True)
    assert "Your cookies are the key to this page." in my_data
    policy = thief.get("/privacy").get_data(as_text=True)
    assert "anyone who copies your visitor cookie into another browser is your browser to us" in policy
    assert "everything, in full, is shown only after you open a link we mail to your address" in policy


def test_with_the_mailed_link_the_full_record_is_there(app):
    owner = owner_with_history(app)
    html = open_access(owner, app, JANE).get_data(as_text=True)
    assert OWNER_IP in html and MESSAGE in html
    assert "q=" + SEARCH.replace(" ", "+") in html or "q=" + SEARCH.replace(" ", "%20") in html
    document = owner.get("/my-data/email/download").get_json()
    assert document["submissions"][0]["recorded"]["ip"] == OWNER_IP
    assert any(SEARCH.replace(" ", "+") in visit["query"] or SEARCH in visit["query"] for visit in document["visits"])
