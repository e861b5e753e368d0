"""The reviewer tour, walked end to end in real Chromium, then again with Global Privacy Control."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from webshop import visits
from webshop.db import db
from webshop.mail import outbox_messages
from webshop.models import Submission, Visit
from webshop.policy_text import POLICY_VERSION

pytestmark = pytest.mark.browser

EMAIL = "ada@example.org"


def back_to_tour(page, base):
    page.goto(base + "/privacy/tour")


def test_a_reviewer_walks_the_whole_tour(live_server, page, new_page):
    base = live_server.url
    page.goto(base + "/privacy")
    page.get_by_role("link", name="Take the ten-minute reviewer tour").click()
    expect(page.get_by_role("heading", name="A tour for reviewers")).to_be_visible()

    # 1. The banner.
    expect(page.locator("#live-banner")).to_contain_text("none yet")
    page.locator("#step-banner").get_by_role("link", name="Go there").click()
    page.get_by_role("button", name="Accept", exact=True).click()
    expect(page.locator("#consent-banner")).to_have_count(0)  # closed once the shop stored the answer
    back_to_tour(page, base)
    acknowledged = f"Banner acknowledged for the current version ({POLICY_VERSION}): yes"
    expect(page.locator("#live-banner")).to_contain_text(acknowledged)
    visitor_id = page.locator("#live-banner code").inner_text()

    # 2. The cart, decoded.
    expect(page.locator("#live-cart")).to_contain_text("No cart cookie yet")
    page.locator("#step-cart").get_by_role("link", name="Open the product").click()
    product = page.get_by_role("heading", level=1).inner_text()
    page.get_by_role("button", name="Add to cart").click()
    back_to_tour(page, base)
    expect(page.locator("#live-cart")).to_contain_text(f"1 × {product}")
    page.locator("#live-cart").get_by_role("link", name=re.compile("decoded")).click()
    expect(page.locator("#cookie-cart .cart-payload")).to_contain_text(product)

    # 3. Visits.
    back_to_tour(page, base)
    expect(page.locator("#live-visits")).to_contain_text("127.0.0.1")
    page.locator("#step-visits").get_by_role("link", name="Go there").click()
    expect(page.locator("#evidence-ip")).to_have_text("127.0.0.1")
    expect(page.locator("#evidence-visitor")).to_have_text(visitor_id)
    expect(page.locator("#collect-ip table.visits")).to_contain_text("GET /privacy/tour")

    # 4. Newsletter with "don't share".
    back_to_tour(page, base)
    page.locator("#step-newsletter").get_by_role("link", name="Go there").click()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Offers and discounts").check()
    page.get_by_label(re.compile("share")).check()
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    with live_server.app.app_context():
        signup = db.session.execute(select(Submission)).scalar_one()
        number, receipt = signup.id, signup.receipt_id
    back_to_tour(page, base)
    live = page.locator("#live-newsletter")
    expect(live).to_contain_text(f"Your newsletter signup #{number} (a***@example.org")
    expect(live).to_contain_text('would be excluded from exports because: "don\'t share" was ticked on it')

    # 5. The receipt.
    page.locator("#live-receipt").get_by_role("link", name=f"Receipt of your newsletter #{number}").click()
    expect(page).to_have_url(re.compile(f"/receipt/{receipt}$"))
    expect(page.get_by_role("heading", name="Consent receipt", exact=True)).to_be_visible()
    expect(page.locator("#choice-share")).to_contain_text("you opted out")

    # 6. Where the choices end up.
    back_to_tour(page, base)
    expect(page.locator("#live-sharing")).to_contain_text(
        "an export made now would hold 0 records, 0 of them yours (of 1 you sent)"
    )
    page.locator("#step-sharing").get_by_role("link", name="Go there").click()
    expect(page.locator("#evidence-shareable")).to_have_text("0")
    expect(page.locator("#opt-out-newsletter")).to_contain_text("1 (100.0 %)")
    expect(page.locator(f"#combine-submission-{number}")).to_contain_text('"don\'t share" ticked')

    # 7. Global Privacy Control, in a browser that sends it.
    gpc = new_page(extra_http_headers={"Sec-GPC": "1"})
    gpc.goto(base + "/privacy/tour")
    expect(gpc.locator("#live-gpc")).to_contain_text("Global Privacy Control on this request: received")
    expect(gpc.locator("#live-gpc .tour-blocking")).to_contain_text("No IP address, domain or visitor id is stored")
    gpc.locator("#step-gpc").get_by_role("link", name="Go there").click()
    expect(gpc.locator("#evidence-gpc")).to_have_text("received")
    expect(gpc.locator("#evidence-ip")).to_contain_text("no IP address is stored for this request")
    expect(gpc.locator("#evidence-blocking")).to_contain_text("the visit row for this request has no IP address")
    assert not [c for c in gpc.context.cookies() if c["name"] == "visitor"]
    with live_server.app.app_context():
        visits.flush(live_server.app)
        signalled = db.session.execute(select(Visit).where(Visit.blocking_signal.is_(True))).scalars().all()
        assert len(signalled) >= 2 and all(v.ip is None and v.visitor_id is None for v in signalled)
    # The same reviewer without the signal still sees their address stored.
    back_to_tour(page, base)
    expect(page.locator("#live-gpc")).to_contain_text("Global Privacy Control on this request: not sent")

    # 8. Everything under the address.
    expect(page.locator("#live-my-data")).to_contain_text("through a mailed link: no")
    page.locator("#step-my-data").get_by_role("link", name="Go there").click()
    page.get_by_role("textbox", name="Your email address").fill(EMAIL)
    page.get_by_role("button", name="Send me the link").click()
    with live_server.app.app_context():
        [mail] = [m for m in outbox_messages() if m.to == EMAIL and m.subject == "Your data: your link"]
        link = re.search(r"https?://\S+/my-data/open/\S+", mail.text).group(0)
    page.goto(base + urlsplit(link).path)
    page.get_by_role("button", name="Open my data").click()
    expect(page.locator("#held-email")).to_have_text(EMAIL)
    back_to_tour(page, base)
    expect(page.locator("#live-my-data")).to_contain_text("through a mailed link: yes")
    page.goto(base + "/privacy#other-sources")
    expect(page.locator("#evidence-granted")).to_contain_text(
        "Under a***@example.org, which this browser opened: 1 × Newsletter"
    )

    # 9. The clause map.
    back_to_tour(page, base)
    page.locator("#step-map").get_by_role("link", name="Go there").click()
    expect(page).to_have_url(re.compile("/privacy/practice.json$"))
    expect(page.locator("body")).to_contain_text("tests/browser/test_tour.py::test_a_reviewer_walks_the_whole_tour")
