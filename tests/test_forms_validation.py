"""Bad input on every form: a clear message beside the field, every value kept, nothing stored."""

import html as html_lib
from datetime import date, timedelta

import pytest

from tests.support.forms import FORMS, send, submissions
from tests.support.pages import is_checked

BY_KIND = {case.kind: case for case in FORMS}
TOMORROW_PLUS_ONE = (date.today() + timedelta(days=2)).isoformat()

CASES = [
    ("newsletter", "email", "", "Enter your email address."),
    ("newsletter", "email", "jane.example.org", "must have an @-sign"),
    ("newsletter", "email", "jane@", "There must be something after the @-sign"),
    ("newsletter", "email", "x" * 250 + "@example.org", "That address is too long."),
    ("newsletter", "topics", None, "Choose at least one topic."),
    ("newsletter", "topics", ["offers", "spam"], "'spam' is not a valid choice"),
    ("survey", "rating", None, "Choose a rating from 1 to 5."),
    ("survey", "rating", "6", "Choose a rating from 1 to 5."),
    ("survey", "shopped_for", ["audio", "yachts"], "Choose from the listed product kinds."),
    ("survey", "found_us", "", "Tell us how you found us."),
    ("survey", "found_us", "tv", "Choose one of the listed answers."),
    ("survey", "improve", "x" * 2001, "Use at most 2000 characters."),
    ("survey", "email", "not an address", "must have an @-sign"),
    ("registration", "product", "999999", "Choose a product from the list."),
    ("registration", "product", "phone", "Choose a product from the list."),
    ("registration", "serial_number", "", "Enter the serial number."),
    ("registration", "serial_number", "SN", "Use between 4 and 40 characters."),
    ("registration", "serial_number", "SN<12>", "Use letters, digits, spaces and dashes only."),
    ("registration", "purchase_date", "", "Enter the date you bought it."),
    ("registration", "purchase_date", "31/12/2024", "Not a valid date value."),
    ("registration", "purchase_date", TOMORROW_PLUS_ONE, "The purchase date cannot be in the future."),
    ("registration", "purchase_date", "1999-12-31", "Enter a purchase date after 2000."),
    ("registration", "name", "", "Enter your name."),
    ("registration", "name", "x" * 121, "Use at most 120 characters."),
    ("registration", "email", "", "Enter your email address."),
    ("contact", "name", "", "Enter your name."),
    ("contact", "email", "jane@@example.org", "invalid characters"),
    ("contact", "subject", "", "Enter a subject."),
    ("contact", "subject", "Hello\r\nBcc: victim@example.org", "Keep this on one line"),
    ("contact", "message", "", "Write your message."),
    ("contact", "message", "x" * 5001, "Use between 2 and 5000 characters."),
    ("board", "display_name", "", "Choose a display name."),
    ("board", "display_name", "x" * 41, "Use at most 40 characters."),
    ("board", "email", "", "Enter your email address."),
    ("board", "message", "", "Write your message."),
    ("board", "message", "nul\x00byte", "Remove the special control characters"),
    ("chat", "display_name", "", "Choose a display name."),
    ("chat", "message", "", "Write a message."),
    ("chat", "message", "x" * 501, "Use at most 500 characters."),
    ("chat", "email", "jane", "must have an @-sign"),
    ("order", "address", "short", "Enter a full shipping address"),
]


@pytest.mark.parametrize("kind, field, value, message", CASES, ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_error_is_shown_beside_its_field_and_every_value_is_kept(client, app, kind, field, value, message):
    case = BY_KIND[kind]
    response = send(client, app, case, **{field: value, "no_marketing": "y"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    error_at = page.index(f'id="{field}-error"')
    assert message in html_lib.unescape(page[error_at : error_at + 400])
    assert 'aria-describedby="' + field + '-error"' in page
    for other, kept in case.good.items():
        if other == field or kept in ("PRODUCT", "PURCHASE_DATE"):
            continue
        for item in kept if isinstance(kept, list) else [kept]:
            if other in ("topics", "shopped_for", "rating"):
                assert is_checked(page, name=other, value=item), (other, item)
            elif other == "found_us":
                assert f'<option selected value="{item}">' in page
            else:
                assert html_lib.escape(item, quote=True) in page or item in html_lib.unescape(page), other
    assert is_checked(page, name="no_marketing", value="y"), "the ticked box stays ticked"
    assert not is_checked(page, name="no_share", value="y")
    assert submissions(app) == []


def test_typed_text_comes_back_exactly_even_with_markup(client, app):
    typed = 'He said "<b>hi</b>" & left'
    response = send(client, app, BY_KIND["contact"], message=typed, email="bad")
    page = response.get_data(as_text=True)
    assert typed in html_lib.unescape(page)
    assert "<b>hi</b>" not in page


@pytest.mark.parametrize("separator", ["\x85", "\u2028", "\u2029", "\x1c", "\x0b"])
def test_unicode_line_breaks_cannot_reach_a_mail_header(client, app, separator):
    response = send(client, app, BY_KIND["contact"], subject=f"Hi{separator}Bcc: x@example.org")
    assert response.status_code == 200
    assert "Keep this on one line" in response.get_data(as_text=True)
    assert submissions(app) == []
