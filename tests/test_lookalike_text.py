"""Look-alike text: invisible formatting characters are refused, names cannot pass for the shop,
and staff pages isolate what visitors typed."""

import pytest

from tests.support.forms import FORMS, send, submissions
from tests.support.staff import signed_in
from webshop.db import db
from webshop.models import BoardPost, Submission, new_receipt_id

BY_KIND = {case.kind: case for case in FORMS}
INVISIBLE = {
    "right-to-left override": "\u202e",
    "left-to-right embedding": "\u202a",
    "first strong isolate": "\u2068",
    "right-to-left mark": "\u200f",
    "arabic letter mark": "\u061c",
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "word joiner": "\u2060",
    "byte order mark": "\ufeff",
    "tag latin small letter s": "\U000e0073",
    "cancel tag": "\U000e007f",
}
INVISIBLE_MESSAGE = "Remove the invisible formatting characters"
# (form, field) for every free-text field a visitor fills in.
TEXT_FIELDS = [
    ("board", "display_name"),
    ("board", "message"),
    ("chat", "display_name"),
    ("chat", "message"),
    ("contact", "name"),
    ("contact", "subject"),
    ("contact", "message"),
    ("registration", "name"),
    ("order", "name"),
    ("order", "address"),
    ("survey", "improve"),
]


@pytest.mark.parametrize(("kind", "field"), TEXT_FIELDS, ids=[f"{k}-{f}" for k, f in TEXT_FIELDS])
def test_invisible_formatting_characters_are_a_form_error(client, app, kind, field):
    refused = {}
    for label, char in INVISIBLE.items():
        response = send(client, app, BY_KIND[kind], **{field: f"Jane{char}Doe, 1 Loopback Lane"})
        refused[label] = response.status_code == 200 and INVISIBLE_MESSAGE in response.get_data(as_text=True)
    assert refused == dict.fromkeys(INVISIBLE, True)
    assert submissions(app, kind) == []


RESERVED = [
    "Staff",
    "ＳＴＡＦＦ",
    "staff\u200b",
    "sTaFf",
    "Admin",
    "Moderator",
    "Shop Staff",
    "s.t.a.f.f",
    "Voltage & Vine",
    "VOLTAGE-VINE ELECTRONICS",
    "Ｖｏｌｔａｇｅ Ｖｉｎｅ",
]


@pytest.mark.parametrize("kind", ["board", "chat"])
def test_names_that_pass_for_the_shop_or_its_staff_are_refused(client, app, kind):
    accepted = []
    for name in RESERVED:
        response = send(client, app, BY_KIND[kind], display_name=name)
        page = response.get_data(as_text=True)
        if response.status_code != 200 or not ("kept for the shop itself" in page or INVISIBLE_MESSAGE in page):
            accepted.append(name)
    assert accepted == []
    assert submissions(app, kind) == []


@pytest.mark.parametrize("kind", ["board", "chat"])
def test_ordinary_names_in_any_script_are_still_welcome(client, app, kind):
    names = ["Staffan", "Jane 😀", "محمد", "שרה", "Vine lover"]
    assert [send(client, app, BY_KIND[kind], display_name=name).status_code for name in names] == [303] * len(names)
    assert [submission.name for submission in submissions(app, kind)] == names


@pytest.mark.parametrize("url", ["/board", "/chat"])
def test_the_board_and_chat_say_staff_never_post_and_isolate_names(client, app, url):
    send(client, app, BY_KIND["board" if url == "/board" else "chat"], display_name="שרה", message="שלום 123")
    page = client.get(url).get_data(as_text=True)
    assert "Our staff never" in page
    assert "<bdi>שרה</bdi>" in page and "<bdi>שלום 123</bdi>" in page


def test_staff_pages_isolate_text_visitors_typed(client, app):
    """Text stored before the check (here with U+202E) or in a right-to-left script stays in its own <bdi>."""
    send(client, app, BY_KIND["contact"], name="שרה", subject="שאלה")
    with app.app_context():
        legacy = Submission(
            receipt_id=new_receipt_id(),
            kind="board",
            name="Jane\u202eenaJ",
            email="jane@example.org",
            fields={"display_name": "Jane\u202eenaJ", "message": "tfel ot thgir\u202e"},
            visitor_id="v" * 32,
            policy_version="1",
        )
        db.session.add(legacy)
        db.session.add(BoardPost(submission=legacy, display_name="Jane\u202eenaJ", body="tfel ot thgir\u202e"))
        db.session.commit()
    signed_in(app, client)
    board = client.get("/admin/submissions/board").get_data(as_text=True)
    assert "<bdi>Jane\u202eenaJ</bdi>" in board and "<bdi>tfel ot thgir\u202e</bdi>" in board
    contact = client.get("/admin/submissions/contact").get_data(as_text=True)
    assert "<bdi>שרה</bdi>" in contact and "<bdi>שאלה</bdi>" in contact
    visitor = client.get(f"/admin/visitors/{'v' * 32}").get_data(as_text=True)
    assert "<bdi>Jane\u202eenaJ</bdi>" in visitor
    outbox = client.get("/admin/outbox").get_data(as_text=True)
    assert ">Contact form: שאלה</a></bdi>" in outbox
