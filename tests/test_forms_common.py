"""Every personal-information form, held to the same promises: opt-out, consent, combine (docs/privacy-practices.md)."""

import re

import pytest

from tests.support.cart import add_to_cart
from tests.support.forms import FORM_IDS, FORMS, outbox, send, submissions
from webshop.consent import POLICY_VERSION
from webshop.cookies import serializer

pytestmark = pytest.mark.parametrize("case", FORMS, ids=FORM_IDS)


def page_of(client, app, case):
    if case.needs_cart:
        add_to_cart(client, app)
    response = client.get(case.url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_form_shows_two_unticked_opt_out_boxes_labelled_marketing_and_share(client, app, case):
    html = page_of(client, app, case)
    for name, word in [("no_marketing", "marketing"), ("no_share", "share")]:
        box = re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group(0)
        assert 'type="checkbox"' in box and "checked" not in box
        label = re.search(rf'<label for="{name}">([^<]*)</label>', html).group(1)
        assert word in label


def test_every_input_has_a_label_tied_to_it(client, app, case):
    html = page_of(client, app, case)
    form = html[html.index('<form method="post" action="' + case.url) :]
    form = form[: form.index("</form>")]
    ids = re.findall(r'<(?:input|textarea|select)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', form)
    assert ids
    for element_id in ids:
        assert f'<label for="{element_id}">' in form, element_id


def test_consent_line_beside_the_submit_button_links_to_a_policy_clause(client, app, case):
    html = page_of(client, app, case)
    row = re.search(r'<div class="submit-row">(.*?)</div>', html, re.S).group(1)
    assert '<button type="submit">' in row
    assert re.search(r'class="consent-line".*href="/privacy#[a-z-]+"', row, re.S)


def test_happy_path_stores_the_submission_and_links_its_receipt(client, app, case):
    response = send(client, app, case)
    assert response.status_code == 303, response.get_data(as_text=True)
    [submission] = submissions(app, case.kind)
    assert submission.policy_version == POLICY_VERSION
    assert submission.email == "jane@example.org"
    assert (submission.no_marketing, submission.no_share, submission.blocking_signal) == (False, False, False)
    confirmation = client.get(response.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert f"/receipt/{submission.receipt_id}" in confirmation
    receipt = client.get(f"/receipt/{submission.receipt_id}.json").get_json()
    assert receipt["consentReceiptID"] == submission.receipt_id
    assert receipt["optOuts"] == {"noMarketing": False, "noShare": False, "blockingSignal": False}


def test_opt_outs_belong_to_each_submission_alone(client, app, case):
    send(client, app, case, no_marketing="y")
    send(client, app, case, no_share="y")
    send(client, app, case)
    first, second, third = submissions(app, case.kind)
    assert {first.email, second.email, third.email} == {"jane@example.org"}
    assert (first.no_marketing, first.no_share) == (True, False)
    assert (second.no_marketing, second.no_share) == (False, True)
    assert (third.no_marketing, third.no_share) == (False, False)
    for submission, expected in [(first, (True, False)), (second, (False, True)), (third, (False, False))]:
        receipt = client.get(f"/receipt/{submission.receipt_id}.json").get_json()
        assert (receipt["optOuts"]["noMarketing"], receipt["optOuts"]["noShare"]) == expected


@pytest.mark.parametrize("signal", [{"Sec-GPC": "1"}, {"DNT": "1"}])
def test_blocking_signal_forces_dont_share_and_keeps_no_ip(client, app, case, signal):
    response = send(client, app, case, headers=signal)
    assert response.status_code == 303
    [submission] = submissions(app, case.kind)
    assert submission.blocking_signal is True and submission.no_share is True
    assert (submission.ip, submission.domain, submission.visitor_id) == (None, None, None)
    html = client.get(f"/receipt/{submission.receipt_id}").get_data(as_text=True)
    assert "blocking signal" in html
    receipt = client.get(f"/receipt/{submission.receipt_id}.json").get_json()
    sharing = receipt["services"][0]["purposes"][-1]
    assert sharing["thirdPartyDisclosure"] is False and sharing["optedOut"] is True


def test_form_page_warns_that_a_blocking_signal_means_dont_share(client, app, case):
    if case.needs_cart:
        add_to_cart(client, app)
    html = client.get(case.url, headers={"Sec-GPC": "1"}).get_data(as_text=True)
    assert "blocking signal" in html and "don't share" in html


def test_ip_and_visitor_id_of_the_request_are_stored_and_on_the_receipt(client, app, case):
    with app.app_context():
        client.set_cookie("consent", serializer("consent").dumps(POLICY_VERSION))
    client.get("/")  # the acknowledged banner gives this browser a visitor id
    visitor = client.get_cookie("visitor")
    assert visitor is not None
    send(client, app, case)
    [submission] = submissions(app, case.kind)
    assert submission.ip == "127.0.0.1"
    with app.app_context():
        assert submission.visitor_id == serializer("visitor").loads(visitor.value)
    html = client.get(f"/receipt/{submission.receipt_id}").get_data(as_text=True)
    assert '<dd class="recorded-ip">127.0.0.0/24</dd>' in html  # the receipt's link opens its network only


def test_receipt_is_mailed_to_the_address_given(client, app, case):
    send(client, app, case)
    [submission] = submissions(app, case.kind)
    to_person = [entry for entry in outbox(app) if entry.to == "jane@example.org"]
    assert len(to_person) == 1
    assert submission.receipt_id in to_person[0].text


def test_without_a_csrf_token_nothing_is_stored(client, app, case):
    page_of(client, app, case)
    response = client.post(case.url, data={"email": "jane@example.org", "message": "hi"})
    assert response.status_code == 400
    assert submissions(app) == []
