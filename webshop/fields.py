"""The fields every form is built from, and the validators and filters behind them.

:func:`text_field` and :func:`email_field` build the text and address
inputs of the customer forms; :class:`PlainText` and
:func:`invisible_characters` also guard the staff forms and the staff CLI;
:class:`NotReservedName` keeps display names from passing for the shop.
Choices are allow-listed by the WTForms choice fields themselves.
"""

import re
import unicodedata
from collections.abc import Iterable

from flask import current_app
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from . import mail

# Control characters are refused: they have no place in what people type
# here, some (NUL) cannot be stored in PostgreSQL text at all, and any line
# break (including the Unicode ones) would split a mail header.
SINGLE_LINE_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MULTILINE_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


# Invisible formatting characters (Unicode category Cf: bidi controls such as
# U+202E, zero-width spaces and joiners, U+FEFF, and the tag characters
# U+E0000-U+E007F) are refused: they make text read differently from what it
# is, so that one name can pass for another or a message can hide its words.
INVISIBLE_MESSAGE = (
    "Remove the invisible formatting characters (such as direction marks, zero-width spaces "
    "or tag characters) from this text."
)


def invisible_characters(text: str) -> bool:
    """Whether ``text`` holds a character of Unicode category Cf or the tag block."""
    return any(unicodedata.category(ch) == "Cf" or 0xE0000 <= ord(ch) <= 0xE007F for ch in text)


def strip(value):
    return value.strip() if isinstance(value, str) else value


def normalize_newlines(value):
    return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


class PlainText:
    """Refuse control characters (line breaks only where ``multiline``)."""

    def __init__(self, multiline: bool = False):
        self.pattern = MULTILINE_FORBIDDEN if multiline else SINGLE_LINE_FORBIDDEN
        self.message = (
            "Remove the special control characters from this text."
            if multiline
            else "Keep this on one line, without special control characters."
        )

    def __call__(self, form, field):
        if field.data and self.pattern.search(field.data):
            raise ValidationError(self.message)
        if field.data and invisible_characters(field.data):
            raise ValidationError(INVISIBLE_MESSAGE)


# Words a display name may not be, or hold, because they would pass for the
# shop speaking. Compared after NFKC and case folding, so that "ＳＴＡＦＦ"
# (fullwidth) and "Staff" are "staff".
RESERVED_NAME_WORDS = frozenset({"staff", "admin", "administrator", "moderator", "mod", "official", "support"})
RESERVED_NAME_MESSAGE = "This name is kept for the shop itself; choose another display name."


def name_words(text: str) -> list[str]:
    """The words of ``text`` after NFKC and case folding, punctuation and spaces left out."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return re.findall(r"[^\W_]+", folded)


def reserved_name(name: str) -> bool:
    """Whether ``name`` reads as the shop, its staff or its moderators."""
    words = name_words(name)
    squashed = "".join(words)  # "s.t.a.f.f" too
    if RESERVED_NAME_WORDS.intersection([*words, squashed]):
        return True
    store_words = name_words(current_app.config["STORE_NAME"])
    # The store's name, and its name without the last word ("Voltage & Vine").
    store_names = {"".join(store_words), "".join(store_words[:-1])} - {""}
    return any(store in squashed for store in store_names)


class NotReservedName:
    """Refuse display names that imitate the shop or its staff (who never post as a visitor)."""

    def __call__(self, form, field):
        if field.data and reserved_name(field.data):
            raise ValidationError(RESERVED_NAME_MESSAGE)


def text_field(
    label: str,
    *,
    max_length: int,
    min_length: int = 0,
    required: str | None = None,
    multiline: bool = False,
    description: str = "",
    length_message: str | None = None,
    validators: Iterable = (),
):
    """A text input, stripped, without control or invisible characters, within its lengths.

    ``required`` is the message shown when it is left empty; without it the
    field is optional. ``validators`` are checked after those.
    """
    if min_length:
        message = length_message or f"Use between {min_length} and {max_length} characters."
        length = Length(min=min_length, max=max_length, message=message)
    else:
        length = Length(max=max_length, message=length_message or f"Use at most {max_length} characters.")
    # DataRequired too: the input is stripped, so spaces alone leave nothing.
    presence = [InputRequired(required), DataRequired(required)] if required else [Optional()]
    field_class = TextAreaField if multiline else StringField
    filters = [strip, normalize_newlines] if multiline else [strip]
    return field_class(
        label,
        validators=[*presence, length, PlainText(multiline), *validators],
        filters=filters,
        description=description,
        render_kw={"maxlength": max_length},
    )


def normalized_email(value: str) -> str:
    """The address as email-validator normalises it; syntax only, no network.

    Addresses must be plain ASCII on the left of the ``@`` so that any mail
    server can deliver to them; an international domain is kept in its
    ASCII (IDNA) form.
    """
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise ValidationError(str(error)) from error
    # Stored in lower case, so that Jane@example.org and jane@example.org are
    # one person everywhere: "your data", preferences, exports and erasure.
    address = (result.ascii_email or result.normalized).lower()
    if not mail.carries_address(address):
        # Valid syntax, but a mail reader would decode it into something else
        # (an RFC 2047 encoded word such as "=?utf-8?q?=0d=0a?=").
        raise ValidationError('This address cannot be used for mail; check it for "=?" and remove it.')
    return address


class EmailAddress:
    """Check the address with email-validator and keep its normalised form."""

    def __call__(self, form, field):
        if field.data:
            field.data = normalized_email(field.data)


def email_field(label: str = "Email", *, required: bool = True, description: str = ""):
    message = "Enter your email address."
    presence = [InputRequired(message), DataRequired(message)] if required else [Optional()]
    return StringField(
        label,
        validators=[*presence, Length(max=254, message="That address is too long."), EmailAddress()],
        filters=[strip],
        description=description,
        render_kw={"maxlength": 254, "autocomplete": "email", "type": "email"},
    )
