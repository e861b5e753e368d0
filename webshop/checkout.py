"""Checkout: turns the cart into a fulfillment order at database prices.

An order's page (``/order/<number>``) is shown only to the browser that
placed it, whose signed session keeps the numbers of its latest orders, and
to a "your data" session opened for the order's address. Anyone else, with
the number or without, gets the same 404 page naming neither the order nor
the person: the number travels in links, mail and logs, so it proves nothing.
"""

import secrets

from flask import Blueprint, flash, g, redirect, render_template, session, url_for

from .cart import priced_lines
from .db import db
from .fields import email_field, text_field
from .links import current_grant
from .models import Order, OrderLine
from .responses import no_store
from .submissions import (
    FormKind,
    PersonalDataForm,
    already_received,
    answer_if_sent,
    commit_mail_and_redirect,
    form_post_limit,
    record_submission,
    register_form,
)

bp = Blueprint("checkout", __name__)
bp.after_request(no_store)

SESSION_KEY = "orders"
ORDERS_KEPT = 5  # the session cookie stays small; older order pages open through "your data"


def show_order(submission) -> str:
    """The address of the order's page, which this browser, having placed the order, may now open."""
    number = submission.fields["order_number"]
    remember_order(number)
    return url_for("checkout.placed", number=number)


def order_resent(submission):
    """The order form sent again: what the first answer did, which may never have reached the browser."""
    g.cart.clear()
    return already_received(show_order(submission))


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
        resent=order_resent,
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
@form_post_limit
def checkout():
    lines = priced_lines(g.cart)
    form = CheckoutForm()
    if not lines:
        if form.validate_on_submit():
            answer_if_sent(form)  # the order this form placed emptied the cart: sent again, it shows that order
        flash("Your cart is empty; add something before checking out.", "notice")
        return redirect(url_for("shop.cart"), code=303)
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
        submission.fields = {**submission.fields, "order_number": order.number}  # a new dict: the row is flushed
        db.session.add(order)
        g.cart.clear()
        return commit_mail_and_redirect(submission, next_url=show_order(submission))
    total = sum(line.total_cents for line in lines)
    return render_template("checkout/form.html", form=form, lines=lines, total_cents=total, kind=KIND)


def placed_here() -> list[str]:
    """The numbers of the latest orders placed in this browser."""
    kept = session.get(SESSION_KEY)
    return [n for n in kept if isinstance(n, str)] if isinstance(kept, list) else []


def remember_order(number: str) -> None:
    """Let this browser open the page of the order it just placed."""
    session[SESSION_KEY] = [*placed_here(), number][-ORDERS_KEPT:]


def may_see(order: Order) -> bool:
    """Whether this request may see ``order``: it placed it, or proved the order's address."""
    if order.number in placed_here():
        return True
    grant = current_grant()
    return grant is not None and order.email is not None and grant.email == order.email


@bp.get("/order/<number>")
def placed(number):
    order = db.session.execute(db.select(Order).where(Order.number == number[:40])).scalar_one_or_none()
    if order is None or not may_see(order):
        return render_template("checkout/not_shown.html"), 404
    return render_template("checkout/placed.html", order=order)


def init_app(app):
    app.register_blueprint(bp)
