"""The customer survey: a rating, multiple choice and free text; answers kept for staff."""

from flask import Blueprint, render_template
from wtforms import RadioField, SelectChoice, SelectField, SelectMultipleField
from wtforms.validators import InputRequired
from wtforms.widgets import CheckboxInput, ListWidget

from .fields import email_field, text_field
from .submissions import (
    FormKind,
    PersonalDataForm,
    commit_mail_and_redirect,
    form_post_limit,
    record_submission,
    register_form,
)

bp = Blueprint("survey", __name__)

RATINGS = [
    SelectChoice("5", "5 — excellent"),
    SelectChoice("4", "4 — good"),
    SelectChoice("3", "3 — fair"),
    SelectChoice("2", "2 — poor"),
    SelectChoice("1", "1 — very poor"),
]
SHOPPED_FOR = [
    SelectChoice("phones", "Phones"),
    SelectChoice("laptops", "Laptops"),
    SelectChoice("audio", "Audio"),
    SelectChoice("cameras", "Cameras"),
    SelectChoice("wearables", "Wearables"),
    SelectChoice("accessories", "Accessories"),
]
FOUND_US = [
    SelectChoice("", "Choose one"),
    SelectChoice("search", "A search engine"),
    SelectChoice("friend", "A friend or colleague"),
    SelectChoice("review", "A review or article"),
    SelectChoice("returning", "I have shopped here before"),
    SelectChoice("other", "Somewhere else"),
]

KIND = register_form(
    FormKind(
        kind="survey",
        service="Customer survey",
        endpoint="survey.survey",
        clause="uses",
        primary_purpose="Reviewing your answers to improve the shop",
        pii_categories=("Survey answers", "Email address (if given)"),
        termination="Until you erase it on the your-data page",
        thanks_title="Thank you for your answers",
        thanks_text="Your answers were saved. Our staff read every one.",
        public_fields=("rating", "shopped_for", "found_us"),
    )
)


class SurveyForm(PersonalDataForm):
    rating = RadioField(
        "How happy are you with the shop overall?",
        choices=RATINGS,
        validators=[InputRequired("Choose a rating from 1 to 5.")],
        invalid_choice_message="Choose a rating from 1 to 5.",
    )
    shopped_for = SelectMultipleField(
        "What did you shop for? (choose any)",
        choices=SHOPPED_FOR,
        invalid_choice_message="Choose from the listed product kinds.",
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    found_us = SelectField(
        "How did you find us?",
        choices=FOUND_US,
        validators=[InputRequired("Tell us how you found us.")],
        invalid_choice_message="Choose one of the listed answers.",
    )
    improve = text_field("What should we do better?", max_length=2000, multiline=True)
    email = email_field("Email (optional, if you would like a reply)", required=False)


@bp.route("/survey", methods=["GET", "POST"])
@form_post_limit
def survey():
    form = SurveyForm()
    if form.validate_on_submit():
        submission = record_submission(
            "survey",
            form,
            email=form.email.data,
            name=None,
            fields={
                "rating": int(form.rating.data),
                "shopped_for": form.shopped_for.data or [],
                "found_us": form.found_us.data,
                "improve": form.improve.data or "",
            },
        )
        return commit_mail_and_redirect(submission)
    return render_template("survey/form.html", form=form, kind=KIND)


def init_app(app):
    app.register_blueprint(bp)
