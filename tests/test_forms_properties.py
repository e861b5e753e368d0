"""Property-based: no input makes a form fail with 500, and a valid submission is never lost."""

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.cart import add_to_cart, product_id
from tests.support.forms import FORMS, submissions
from tests.support.pages import hidden_fields

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

ANY_TEXT = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200),
    st.sampled_from(["", " ", "\x00", "<script>alert(1)</script>", '" onmouseover="x', "x" * 6000, "a@b"]),
)
ANY_VALUE = st.one_of(ANY_TEXT, st.lists(ANY_TEXT, max_size=3))


# What a valid text field leaves out: control characters, line separators and
# invisible formatting characters (category Cf and the tag block).
VALID_TEXT_EXCLUDES = ("Cs", "Cc", "Zl", "Zp", "Cf")
TAG_CHARACTERS = "".join(chr(code) for code in range(0xE0000, 0xE0080))


def line(max_size):
    alphabet = st.characters(blacklist_categories=VALID_TEXT_EXCLUDES, blacklist_characters=TAG_CHARACTERS)
    return st.text(alphabet=alphabet, min_size=1, max_size=max_size).filter(lambda s: s.strip())


def lines(max_size, min_size=1):
    alphabet = st.characters(
        blacklist_categories=VALID_TEXT_EXCLUDES, blacklist_characters=TAG_CHARACTERS, whitelist_characters="\n"
    )
    return st.text(alphabet=alphabet, min_size=min_size, max_size=max_size).filter(lambda s: len(s.strip()) >= min_size)


EMAIL = st.builds(
    "{}@{}".format,
    st.from_regex(r"[a-z0-9]([a-z0-9_+-]{0,15}[a-z0-9])?", fullmatch=True),
    st.sampled_from(["example.org", "shop.example.com", "EXAMPLE.NET"]),
)


def valid_fields(kind):
    """Strategies of valid values for each field of a form."""
    return {
        "newsletter": {
            "email": EMAIL,
            "topics": st.lists(
                st.sampled_from(["new-products", "offers", "guides", "site-updates"]), min_size=1, unique=True
            ),
        },
        "survey": {
            "rating": st.sampled_from(["1", "2", "3", "4", "5"]),
            "shopped_for": st.lists(st.sampled_from(["phones", "audio", "cameras"]), unique=True),
            "found_us": st.sampled_from(["search", "friend", "review", "returning", "other"]),
            "improve": st.one_of(st.just(""), lines(2000)),
            "email": st.one_of(st.just(""), EMAIL),
        },
        "registration": {
            "serial_number": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 -]{2,30}[A-Za-z0-9]", fullmatch=True),
            "purchase_date": st.dates(min_value=date(2000, 1, 1), max_value=date.today()).map(date.isoformat),
            "name": line(120),
            "email": EMAIL,
        },
        "contact": {
            "name": line(120),
            "email": EMAIL,
            "subject": line(150),
            "message": lines(5000, min_size=2),
        },
        "board": {"display_name": line(40), "email": EMAIL, "message": lines(2000)},
        "chat": {"display_name": line(40), "message": line(500), "email": st.one_of(st.just(""), EMAIL)},
        "order": {"name": line(120), "email": EMAIL, "address": lines(500, min_size=10)},
    }[kind]


def clean(value: str, multiline: bool) -> str:
    value = value.strip()
    return value.replace("\r\n", "\n").replace("\r", "\n") if multiline else value


def expected_fields(kind, data) -> dict:
    """What the submission must hold for ``data``."""
    if kind == "newsletter":
        return {"topics": data["topics"]}
    if kind == "survey":
        return {
            "rating": int(data["rating"]),
            "found_us": data["found_us"],
            "improve": clean(data["improve"], True),
        }
    if kind == "registration":
        return {"name": clean(data["name"], False), "serial_number": data["serial_number"].upper()}
    if kind == "contact":
        return {"subject": clean(data["subject"], False), "message": clean(data["message"], True)}
    if kind in ("board", "chat"):
        multiline = kind == "board"
        return {
            "display_name": clean(data["display_name"], False),
            "message": clean(data["message"], multiline),
        }
    return {"address": clean(data["address"], True)}


class Poster:
    """Posts a form repeatedly with one session, each time filled in afresh (its page opened again)."""

    def __init__(self, client, app, case):
        self.client, self.app, self.case = client, app, case
        if case.needs_cart:
            add_to_cart(client, app)
        self.product = str(product_id(app))

    def post(self, data: dict):
        if self.case.needs_cart:
            add_to_cart(self.client, self.app)
        if self.case.kind == "registration":
            data = {"product": self.product, **data}
        tokens = hidden_fields(self.client.get(self.case.url).get_data(as_text=True))
        return self.client.post(self.case.url, data={**tokens, **data})


@pytest.mark.parametrize("case", FORMS, ids=[case.kind for case in FORMS])
def test_no_input_makes_a_form_fail(client, app, case):
    poster = Poster(client, app, case)
    names = [*valid_fields(case.kind), "no_marketing", "no_share"]

    @SETTINGS
    @given(data=st.fixed_dictionaries({}, optional={name: ANY_VALUE for name in names}))
    def check(data):
        before = len(submissions(app))
        response = poster.post(data)
        assert response.status_code in (200, 303), response.status_code
        assert len(submissions(app)) == before + (1 if response.status_code == 303 else 0)

    check()


@pytest.mark.parametrize("case", FORMS, ids=[case.kind for case in FORMS])
def test_a_valid_submission_is_never_lost(client, app, case):
    poster = Poster(client, app, case)

    @SETTINGS
    @given(
        data=st.fixed_dictionaries(valid_fields(case.kind)),
        no_marketing=st.booleans(),
        no_share=st.booleans(),
    )
    def check(data, no_marketing, no_share):
        boxes = {name: "y" for name, ticked in [("no_marketing", no_marketing), ("no_share", no_share)] if ticked}
        response = poster.post({**data, **boxes})
        assert response.status_code == 303, response.get_data(as_text=True)[-2000:]
        stored = submissions(app, case.kind)[-1]
        for name, value in expected_fields(case.kind, data).items():
            assert stored.fields[name] == value, name
        if data.get("email"):
            local, domain = data["email"].split("@")
            assert stored.email == f"{local}@{domain.lower()}"
        assert (stored.no_marketing, stored.no_share) == (no_marketing, no_share)

    check()
