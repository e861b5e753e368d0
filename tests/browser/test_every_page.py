"""Every page people use, checked by the tools people check pages with.

One visitor fills every form, opens "your data" from the mailed link and
places an order; a staff member signs in. Then each page is opened in real
Chromium and checked three ways:

- **phone:** at 375 px, with and without ``is_mobile`` (where Chromium would
  otherwise widen the layout viewport to fit the content), the document is
  no wider than the screen: ``scrollWidth <= clientWidth``. A failing page
  leaves its screenshot in the test's output folder;
- **axe-core** (bundled by axe-playwright-python, injected by the test,
  never by the shop's pages): no violation of impact "serious" or
  "critical";
- **the W3C Nu Html Checker** (``vnu.jar`` from tests/tools, on Debian's
  Java): the HTML the server sent has no error.
"""

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.support.cart import product_id
from tests.support.forms import FORMS, form_data
from tests.support.live_server import serving
from tests.support.pages import hidden_fields
from tests.support.staff import PASSWORD, create_staff
from webshop.db import db
from webshop.ledger import record_export
from webshop.mail import outbox_messages
from webshop.models import Notice, Order, Recipient, Submission
from webshop.rules import shareable_submissions

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

VNU_JAR = Path(__file__).resolve().parent.parent / "tools" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
EMAIL = "jane@example.org"
PHONE = {"width": 375, "height": 740}
SERIOUS = {"serious", "critical"}


def post_form(request, base: str, page_url: str, data: dict, action: str | None = None):
    """Post ``data`` with the tokens of ``page_url``, as the browser's own form would."""
    body = urlencode({**hidden_fields(request.get(base + page_url).text()), **data}, doseq=True)
    response = request.post(
        base + (action or page_url), data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status < 400, f"{action or page_url}: {response.status}"
    return response


def mailed_link(app, pattern: str) -> str:
    with app.app_context():
        texts = [message.text for message in outbox_messages() if message.to == EMAIL]
    for text in reversed(texts):
        found = re.search(pattern, text)
        if found:
            return urlsplit(found.group(0)).path
    raise AssertionError(f"no mail to {EMAIL} holds {pattern}")


def fill_the_shop(server, visitor, staff):
    """Make every page worth looking at: rows in every form, a cart, an order, an export, a notice."""
    base, app = server.url, server.app
    page = visitor.new_page()
    page.goto(base + "/")
    page.get_by_role("button", name="Accept", exact=True).click()
    page.wait_for_selector("#consent-banner", state="detached")
    request = visitor.request
    for case in FORMS:
        if case.needs_cart:
            post_form(request, base, "/product/hush-anc", {"product_id": product_id(app), "quantity": 2}, "/cart/add")
        post_form(request, base, case.url, form_data(app, case))
    post_form(
        request,
        base,
        "/product/braid-usb-c-2m",
        {"product_id": product_id(app, "braid-usb-c-2m"), "quantity": 1},
        "/cart/add",
    )
    post_form(request, base, "/my-data", {"email": EMAIL}, "/my-data/link")
    opened = mailed_link(app, r"https?://\S+/my-data/open/\S+")
    post_form(request, base, opened, {})
    page.close()

    create_staff(app)
    post_form(staff.request, base, "/admin/login", {"name": "alice", "password": PASSWORD})
    with app.app_context():
        recipient = Recipient(name="Partner Books", description="A bookshop we work with")
        db.session.add(recipient)
        entry = record_export(recipient, "Autumn offers", "alice", db.session.scalars(shareable_submissions()))
        notice = Notice(subject="New opening hours", body="We now open at nine.", created_by="alice")
        db.session.add(notice)
        db.session.commit()
        receipt = db.session.scalars(db.select(Submission.receipt_id).where(Submission.kind == "contact")).one()
        visitor_id = db.session.scalars(db.select(Submission.visitor_id).where(Submission.kind == "board")).one()
        number = db.session.scalars(db.select(Order.number)).one()
        ids = {"receipt": receipt, "visitor": visitor_id, "order": number, "entry": entry.id, "notice": notice.id}
        ids["mail"] = outbox_messages()[0].key
    return ids


def visitor_pages(ids):
    return {
        "home": "/",
        "category": "/category/audio",
        "product": "/product/braid-usb-c-2m",
        "search": "/search?q=cable",
        "cart": "/cart",
        "checkout": "/checkout",
        "policy": "/privacy",
        "source view": "/privacy/source/webshop/cookies.py",
        "tour": "/privacy/tour",
        "my-data": "/my-data",
        "my-data everything": "/my-data/email",
        "receipt": f"/receipt/{ids['receipt']}",
        "thanks": f"/thanks/{ids['receipt']}",
        "order": f"/order/{ids['order']}",
        "newsletter": "/newsletter",
        "survey": "/survey",
        "register": "/register",
        "contact": "/contact",
        "board": "/board",
        "chat": "/chat",
        "not found": "/no-such-page",
    }


def staff_pages(ids):
    return {
        "staff sign-in": "/admin/login",
        "staff dashboard": "/admin/",
        "staff visit log": "/admin/visits",
        "staff visitor": f"/admin/visitors/{ids['visitor']}",
        "staff submissions": "/admin/submissions",
        "staff survey answers": "/admin/submissions/survey",
        "staff board posts": "/admin/submissions/board",
        "staff export": "/admin/export",
        "staff recipients": "/admin/recipients",
        "staff ledger": "/admin/ledger",
        "staff ledger entry": f"/admin/ledger/{ids['entry']}",
        "staff notices": "/admin/notices",
        "staff notice": f"/admin/notices/{ids['notice']}",
        "staff outbox": "/admin/outbox",
        "staff outbox message": f"/admin/outbox/{ids['mail']}",
    }


def slug(name: str) -> str:
    return re.sub(r"\W+", "-", name)


OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
# The innermost elements reaching past the right edge: what to fix.
WIDEST = """
() => {
  const edge = document.documentElement.clientWidth;
  const out = [...document.body.querySelectorAll("*")].filter(e => e.getBoundingClientRect().right > edge + 0.5);
  const innermost = out.filter(e => ![...e.children].some(c => out.includes(c)));
  const named = e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
    + (typeof e.className === "string" && e.className ? "." + e.className.split(" ").join(".") : "");
  return innermost.slice(0, 4).map(e => `${named(e)} to ${Math.round(e.getBoundingClientRect().right)}px`);
}
"""


@pytest.fixture(scope="module")
def checked(playwright_browser, sqlite_template, tmp_path_factory):
    """Every page, opened once per check; what each check found, by page name."""
    instance = tmp_path_factory.mktemp("every-page") / "instance"
    instance.mkdir()
    screens = tmp_path_factory.mktemp("phone-screenshots")
    sources = tmp_path_factory.mktemp("page-sources")
    found = {"phone": {}, "axe": {}, "html": {}, "status": {}, "screens": screens}
    axe = Axe()
    with serving(sqlite_template, instance, {"WTF_CSRF_TIME_LIMIT": None}) as server:
        visitor = playwright_browser.new_context(viewport={"width": 1280, "height": 900})
        staff = playwright_browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            ids = fill_the_shop(server, visitor, staff)
            groups = [(visitor, visitor_pages(ids)), (staff, staff_pages(ids))]
            files = {}
            for context, pages in groups:
                state = context.storage_state()
                page = context.new_page()
                for name, path in pages.items():
                    response = page.goto(server.url + path)
                    found["status"][name] = response.status
                    source = sources / f"{slug(name)}.html"
                    source.write_text(response.text(), encoding="utf-8")
                    files[str(source)] = name
                    violations = axe.run(page).response["violations"]
                    serious = [f"{v['id']} ({v['impact']}): {v['help']}" for v in violations if v["impact"] in SERIOUS]
                    if serious:
                        found["axe"][name] = serious
                page.close()
                for mobile in (False, True):
                    phone = playwright_browser.new_context(
                        storage_state=state, viewport=PHONE, is_mobile=mobile, has_touch=mobile
                    )
                    page = phone.new_page()
                    for name, path in pages.items():
                        page.goto(server.url + path)
                        overflow = page.evaluate(OVERFLOW)
                        if overflow > 0:
                            shot = screens / f"{slug(name)}-{'mobile' if mobile else 'narrow'}.png"
                            page.screenshot(path=str(shot), full_page=True)
                            widest = ", ".join(page.evaluate(WIDEST))
                            label = f"{name}{' (is_mobile)' if mobile else ''}"
                            found["phone"][label] = f"{overflow}px too wide: {widest}"
                    phone.close()
        finally:
            visitor.close()
            staff.close()
    found["html"] = nu_html_errors(files)
    return found


def nu_html_errors(files: dict[str, str]) -> dict[str, list[str]]:
    """The Nu Html Checker's errors for each file, by page name: one Java start for them all."""
    result = subprocess.run(
        ["java", "-jar", str(VNU_JAR), "--format", "json", "--errors-only", *files],
        capture_output=True,
        text=True,
        timeout=180,
    )
    errors: dict[str, list[str]] = {}
    for message in json.loads(result.stderr)["messages"]:
        name = files.get(urlsplit(message.get("url", "")).path, message.get("url", "?"))
        errors.setdefault(name, []).append(f"line {message.get('lastLine')}: {message['message']}")
    return errors


def test_every_page_is_served_fits_a_phone_passes_axe_and_the_nu_html_checker(checked):
    """All pages, all checks, in one run of the tour: each finding names its page."""
    assert VNU_JAR.exists(), "scripts/install-test-deps installs the checker into tests/tools"
    expected = {name: 404 if name == "not found" else 200 for name in checked["status"]}
    findings = {
        "wrong status": {name: status for name, status in checked["status"].items() if status != expected[name]},
        f"wider than a 375 px phone (screenshots in {checked['screens']})": checked["phone"],
        "axe-core, serious or critical": checked["axe"],
        "Nu Html Checker errors": checked["html"],
    }
    found = {check: found for check, found in findings.items() if found}
    (checked["screens"] / "findings.json").write_text(json.dumps(found, indent=1, ensure_ascii=False))
    assert found == {}, f"all findings in {checked['screens'] / 'findings.json'}"
