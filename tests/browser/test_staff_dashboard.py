"""Real Chromium: staff sign in and see the dashboard's charts, under the strict CSP."""

import pytest

from tests.support.staff import PASSWORD, create_staff

pytestmark = pytest.mark.browser


def test_staff_sign_in_and_see_the_dashboard_charts(live_server, page):
    create_staff(live_server.app)
    page.goto(live_server.url + "/product/hush-anc")  # a visit for the charts to count
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)

    page.goto(live_server.url + "/admin/")
    assert page.url.startswith(live_server.url + "/admin/login")
    page.get_by_label("Staff name").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/admin/")

    assert page.get_by_role("heading", name="Dashboard").is_visible()
    charts = page.locator("svg.chart")
    assert charts.count() == 8
    assert page.locator("#chart-visits rect.bar").count() == 30
    box = page.locator("#chart-visits").bounding_box()
    assert box["width"] > 200 and box["height"] > 100
    assert int(page.locator("#total-visits").inner_text()) >= 1
    # Every chart fills its card, and its labels stay readable at that size.
    sizes = page.evaluate("""() => [...document.querySelectorAll("svg.chart")].map(svg => {
        const label = svg.querySelector("text");
        return {id: svg.id, fill: svg.getBoundingClientRect().width / svg.parentElement.clientWidth,
                font: label ? label.getBoundingClientRect().height : 99};
    })""")
    assert [s["id"] for s in sizes if s["fill"] < 0.9] == []
    assert [s["id"] for s in sizes if s["font"] < 11] == []
    # The stylesheet colours the bars: no inline style was needed (or allowed).
    fill = page.locator("#chart-visits rect.bar").first.evaluate("el => getComputedStyle(el).fill")
    assert fill == "rgb(11, 92, 173)"
    assert not [p for p in problems if "Content Security Policy" in p]

    page.get_by_role("button", name="Sign out alice").click()
    page.wait_for_url(live_server.url + "/admin/login")
    page.goto(live_server.url + "/admin/")
    assert page.url.startswith(live_server.url + "/admin/login")
