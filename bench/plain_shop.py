"""The anchor: the shop as a Flask developer writes it without the policy machinery.

Same stack (Flask, Flask-SQLAlchemy, Flask-WTF), same data: it reads the
product by slug from webshop's database (a copy of it, or the same
PostgreSQL) with its category lazy-loaded, and renders webshop's layout
(header with search and nav, footer with the form links, every link through
``url_for``) around the product block, with a CSRF-protected add-to-cart
form. The cart lives in Flask's own session cookie; checkout stores an order
with its lines and writes a confirmation mail to a Maildir, as webshop does.
It has no consent banner, visit recording, signed cart cookie, rate limits
or security headers.

Its order tables are added by :func:`create_order_tables` before it starts.
Settings come from ``FLASK_*`` variables (``FLASK_SECRET_KEY``,
``FLASK_SQLALCHEMY_DATABASE_URI``, ``FLASK_MAILDIR``), as webshop's do::

    gunicorn 'bench.plain_shop:create_app()'
"""

import mailbox
import secrets
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from flask import Flask, abort, flash, redirect, render_template, session, url_for
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect, FlaskForm
from sqlalchemy import ForeignKey, String, Text, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from wtforms import EmailField, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import Email, InputRequired, Length, NumberRange

WEBSHOP_STATIC = Path(__file__).resolve().parent.parent / "webshop" / "static"
# The customer whose order the benchmarks place in both shops.
CUSTOMER = {"name": "Jane Doe", "email": "jane@example.org", "address": "12 Long Street, 12345 Sometown"}


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
csrf = CSRFProtect()


class Category(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))


class Product(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(120))
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    description: Mapped[str] = mapped_column(Text)
    price_cents: Mapped[int]
    active: Mapped[bool]
    hue: Mapped[int]
    motif: Mapped[str] = mapped_column(String(20))
    category: Mapped[Category] = relationship()  # lazy: loaded when the page asks for it


class PlainOrder(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(Text)
    total_cents: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=lambda: datetime.now(UTC).replace(tzinfo=None))
    lines: Mapped[list["PlainOrderLine"]] = relationship()


class PlainOrderLine(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("plain_order.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    unit_price_cents: Mapped[int]
    quantity: Mapped[int]


class CartLineForm(FlaskForm):
    product_id = HiddenField(validators=[InputRequired()])
    quantity = IntegerField("Quantity", default=1, validators=[InputRequired(), NumberRange(1, 99)])


class CheckoutForm(FlaskForm):
    name = StringField("Full name", validators=[InputRequired(), Length(max=120)])
    email = EmailField("Email address", validators=[InputRequired(), Email(check_deliverability=False)])
    address = TextAreaField("Shipping address", validators=[InputRequired(), Length(10, 500)])


def cart_lines():
    cart = session.get("cart", {})
    products = db.session.execute(
        db.select(Product).where(Product.id.in_([int(i) for i in cart]), Product.active.is_(True))
    ).scalars() if cart else []
    return [(product, cart[str(product.id)]) for product in products]


def create_order_tables(uri: str) -> None:
    """Add the shop's order tables to a copy of webshop's database (the catalogue's tables exist already)."""
    engine = create_engine(uri)
    db.metadata.create_all(engine, tables=[PlainOrder.__table__, PlainOrderLine.__table__])
    engine.dispose()


def create_app():
    app = Flask(__name__, template_folder="plain_templates", static_folder=str(WEBSHOP_STATIC))
    app.config.update(
        STORE_NAME="Voltage & Vine Electronics",
        STORE_EMAIL="privacy@voltage-vine.example",
        STORE_ADDRESS="12 Loopback Lane, Localhost 12700, Example Republic",
        STORE_PHONE="+1 555 0100",
        MAILDIR=str(Path(app.instance_path) / "outbox"),
    )
    app.config.from_prefixed_env()
    app.add_url_rule("/favicon.ico", endpoint="static", defaults={"filename": "favicon.ico"})
    db.init_app(app)
    csrf.init_app(app)
    outbox = mailbox.Maildir(app.config["MAILDIR"], create=True)

    @app.template_filter("money")
    def money(cents: int) -> str:
        return f"€{cents // 100:,}.{cents % 100:02d}"

    @app.context_processor
    def cart_count():
        return {"cart_count": sum(session.get("cart", {}).values())}

    @app.get("/")
    def home():
        return "home"

    @app.get("/search")
    def search():
        return "search"

    @app.get("/category/<slug>")
    def category(slug):
        return slug

    @app.get("/<any(board, contact, privacy, 'my-data', newsletter, survey, register, chat):name>")
    def page(name):
        return name

    @app.get("/healthz")
    def healthz():
        return "ok"

    @app.get("/product/<slug>")
    def product(slug):
        found = db.first_or_404(db.select(Product).where(Product.slug == slug, Product.active.is_(True)))
        in_cart = session.get("cart", {}).get(str(found.id), 0)
        return render_template("product.html", product=found, form=CartLineForm(product_id=found.id),
                               in_cart=in_cart)

    @app.get("/cart")
    def cart():
        return render_template("cart.html", lines=cart_lines())

    @app.post("/cart/add")
    def cart_add():
        form = CartLineForm()
        if not form.validate():
            abort(400)
        found = db.session.get(Product, int(form.product_id.data))
        if found is None or not found.active:
            abort(404)
        cart = session.get("cart", {})
        key = str(found.id)
        cart[key] = min(cart.get(key, 0) + form.quantity.data, 99)
        session["cart"] = cart
        flash(f"Added {found.name} to your cart.", "success")
        return redirect(url_for("cart"), code=303)

    @app.route("/checkout", methods=["GET", "POST"])
    def checkout():
        lines = cart_lines()
        if not lines:
            return redirect(url_for("cart"), code=303)
        form = CheckoutForm()
        if form.validate_on_submit():
            order = PlainOrder(
                number="WS-" + secrets.token_hex(6).upper(),
                name=form.name.data,
                email=form.email.data,
                address=form.address.data,
                total_cents=sum(product.price_cents * quantity for product, quantity in lines),
                lines=[
                    PlainOrderLine(product_id=product.id, unit_price_cents=product.price_cents, quantity=quantity)
                    for product, quantity in lines
                ],
            )
            db.session.add(order)
            db.session.commit()
            message = EmailMessage()
            message["From"] = app.config["STORE_EMAIL"]
            message["To"] = order.email
            message["Subject"] = f"Your order {order.number}"
            message.set_content(f"Thank you for your order {order.number}.")
            outbox.add(message)
            session.pop("cart", None)
            flash("Thank you for your order.", "success")
            return redirect(url_for("cart"), code=303)
        return render_template("checkout.html", form=form)

    return app
