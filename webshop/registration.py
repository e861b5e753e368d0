"""Product registration: which product from the catalogue, its serial number and purchase date."""

from datetime import date, timedelta

from flask import Blueprint, render_template
from wtforms import DateField, SelectChoice, SelectField
from wtforms.validators import InputRequired, Regexp, ValidationError

from .db import db
from .fields import email_field, text_field
from .models import Product, ProductRegistration
from .submissions import (
    FormKind,
    PersonalDataForm,
    commit_mail_and_redirect,
    form_post_limit,
    record_submission,
    register_form,
)

bp = Blueprint("registration", __name__)

EARLIEST_PURCHASE = date(2000, 1, 1)

KIND = register_form(
    FormKind(
        kind="registration",
        service="Product registration",
        endpoint="registration.register",
        clause="other-sources",
        primary_purpose="Keeping a record of your product for warranty and safety notices",
        pii_categories=("Name", "Email address", "Product owned", "Serial number", "Purchase date"),
        termination="Until you erase it on the your-data page",
        thanks_title="Product registered",
        thanks_text=("Your product is registered. We will contact you about warranty and safety notices for it."),
        public_fields=("product", "purchase_date"),
    )
)


class RegistrationForm(PersonalDataForm):
    product = SelectField(
        "Product",
        coerce=int,
        validators=[InputRequired("Choose the product you bought.")],
        invalid_choice_message="Choose a product from the list.",
        invalid_value_message="Choose a product from the list.",
        render_kw={"required": False},  # every option is a product: nothing to leave unchosen
    )
    serial_number = text_field("Serial number", max_length=40, min_length=4, required="Enter the serial number.")
    purchase_date = DateField(
        "Purchase date",
        validators=[InputRequired("Enter the date you bought it.")],
        render_kw={"autocomplete": "off"},
    )
    name = text_field("Full name", max_length=120, required="Enter your name.")
    email = email_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        products = db.session.execute(
            db.select(Product.id, Product.name).where(Product.active).order_by(Product.name)
        ).all()
        self.product.choices = [SelectChoice(product_id, name) for product_id, name in products]

    def validate_serial_number(self, field):
        Regexp(r"^[A-Za-z0-9][A-Za-z0-9 -]*$", message="Use letters, digits, spaces and dashes only.")(self, field)
        field.data = field.data.upper()

    def validate_purchase_date(self, field):
        if field.data is None:  # not a date; its own message is already there
            return
        # A day of slack: the buyer's calendar may already be a day ahead of UTC.
        if field.data > date.today() + timedelta(days=1):
            raise ValidationError("The purchase date cannot be in the future.")
        if field.data < EARLIEST_PURCHASE:
            raise ValidationError("Enter a purchase date after 2000.")


@bp.route("/register", methods=["GET", "POST"])
@form_post_limit
def register():
    form = RegistrationForm()
    if form.validate_on_submit():
        product_names = {choice.value: choice.label for choice in form.product.choices}
        submission = record_submission(
            "registration",
            form,
            email=form.email.data,
            name=form.name.data,
            fields={
                "name": form.name.data,
                "product": product_names[form.product.data],
                "serial_number": form.serial_number.data,
                "purchase_date": form.purchase_date.data.isoformat(),
            },
        )
        db.session.add(
            ProductRegistration(
                submission=submission,
                product_id=form.product.data,
                serial_number=form.serial_number.data,
                purchase_date=form.purchase_date.data,
            )
        )
        return commit_mail_and_redirect(submission)
    return render_template("registration/form.html", form=form, kind=KIND)


def init_app(app):
    app.register_blueprint(bp)
