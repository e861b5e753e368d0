"""Checkout: turns the cart into a fulfillment order at database prices."""

import secrets

from flask import Blueprint, flash, g, redirect, render_template, url_for

from .cart import priced_lines, private_page
from .db import db
from .models import Order, OrderLine
from .submissions import (
    FormKind,
    PersonalDataForm,
    complete,
    email_field,
    record_submission,
    register_form,
    text_field,
)

bp = Blueprint("checkout", __name__)
bp.after_request(private_page)

KIND = register_form(
    FormKind(
        kind="order",
        service="Order",
        endpoint="checkout.checkout",
        clause="consent",
        primary_purpose="Delivering your order and keeping the records accounting requires",
        pii_categories=("Name", "Email address", "Shipping address", "What you ordered"),
        termination=(
            "Order records are kept for accounting; erasing your data removes your personal details from them"
        ),
        thanks_title="Order placed",
        thanks_text="Thank you for your order.",
        public_fields=("order_number",),
    )
)


class CheckoutForm(PersonalDataForm):
    name = text_field(
        "Full name",
        max_length=120,
        required="Enter your name.",
        length_message="Keep the name under 120 characters.",
    )
    email = email_field()
    address = text_field(
        "Shipping address",
        max_length=500,
        min_length=10,
        required="Enter the address to ship to.",
        multiline=True,
        length_message="Enter a full shipping address (10 to 500 characters).",
    )


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
        name, email, address = form.name.data, form.email.data, form.address.data
        submission = record_submission("order", form, email=email, name=name, fields={"address": address})
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
        g.cart.clear()
        return complete(submission, next_url=url_for("checkout.placed", number=order.number))
    total = sum(line.total_cents for line in lines)
    return render_template("checkout/form.html", form=form, lines=lines, total_cents=total, kind=KIND)


@bp.get("/order/<number>")
def placed(number):
    order = db.first_or_404(db.select(Order).where(Order.number == number))
    return render_template("checkout/placed.html", order=order)


def init_app(app):
    app.register_blueprint(bp)
