"""Checkout: turns the cart into a fulfillment order at database prices."""

import secrets

from flask import Blueprint, flash, g, redirect, render_template, url_for
from wtforms import StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from .cart import priced_lines, private_page
from .db import db
from .models import Order, OrderLine
from .submissions import PersonalDataForm, normalized_email, record_submission

bp = Blueprint("checkout", __name__)
bp.after_request(private_page)


class CheckoutForm(PersonalDataForm):
    name = StringField(
        "Full name",
        validators=[InputRequired("Enter your name."), Length(max=120, message="Keep the name under 120 characters.")],
    )
    email = StringField(
        "Email",
        validators=[InputRequired("Enter your email address."), Length(max=254, message="That address is too long.")],
    )
    address = TextAreaField(
        "Shipping address",
        validators=[
            InputRequired("Enter the address to ship to."),
            Length(min=10, max=500, message="Enter a full shipping address (10 to 500 characters)."),
        ],
    )

    def validate_email(self, field):
        field.data = normalized_email(field.data.strip())


def new_order_number() -> str:
    return "WS-" + secrets.token_hex(6).upper()


@bp.route("/checkout", methods=["GET", "POST"])
def checkout():
    lines = priced_lines(g.cart)
    if not lines:
        flash("Your cart is empty; add something before checking out.", "notice")
        return redirect(url_for("shop.cart"), code=303)
    form = CheckoutForm()
    if form.validate_on_submit():
        name, email, address = form.name.data.strip(), form.email.data, form.address.data.strip()
        submission = record_submission(
            "order", form, email=email, name=name, fields={"address": address}
        )
        order = Order(
            number=new_order_number(),
            submission=submission,
            name=name,
            email=email,
            address=address,
            total_cents=sum(line.total_cents for line in lines),
            lines=[
                OrderLine(
                    product_id=line.product.id,
                    product_name=line.product.name,
                    unit_price_cents=line.product.price_cents,
                    quantity=line.quantity,
                )
                for line in lines
            ],
        )
        submission.fields["order_number"] = order.number
        db.session.add(order)
        db.session.commit()
        g.cart.clear()
        return redirect(url_for("checkout.placed", number=order.number), code=303)
    total = sum(line.total_cents for line in lines)
    return render_template("checkout/form.html", form=form, lines=lines, total_cents=total)


@bp.get("/order/<number>")
def placed(number):
    order = db.first_or_404(db.select(Order).where(Order.number == number))
    return render_template("checkout/placed.html", order=order)


def init_app(app):
    app.register_blueprint(bp)
