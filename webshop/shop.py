"""The storefront: home, categories, product pages, search and the cart pages."""

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import bindparam
from sqlalchemy.orm import contains_eager
from wtforms import HiddenField, IntegerField
from wtforms.validators import InputRequired, NumberRange

from .cart import MAX_QUANTITY, priced_lines
from .db import db
from .models import Category, Product
from .popular import popular_now
from .responses import no_store

bp = Blueprint("shop", __name__)

SEARCH_MAX_LENGTH = 100


class CartLineForm(FlaskForm):
    """Add to cart or change a line: a product id and a quantity (1–99)."""

    product_id = HiddenField(validators=[InputRequired()])
    quantity = IntegerField(
        "Quantity",
        default=1,
        validators=[
            InputRequired("Enter a quantity."),
            NumberRange(1, MAX_QUANTITY, f"Choose a quantity from 1 to {MAX_QUANTITY}."),
        ],
    )


class ProductActionForm(FlaskForm):
    """Remove a line or empty the cart: only the CSRF token and an id."""

    product_id = HiddenField()


# For a form that is checked and then redirects: CSRFProtect checked the request's token before the
# view ran, and nothing is shown, so the form signs no new token.
CHECKED_ONLY = {"csrf": False}


def active_products():
    return db.select(Product).where(Product.active.is_(True))


@bp.get("/")
def home():
    categories = db.session.execute(db.select(Category).order_by(Category.name)).scalars().all()
    featured = db.session.execute(active_products().order_by(Product.id).limit(8)).scalars().all()
    return render_template("shop/home.html", categories=categories, featured=featured, popular=popular_now())


@bp.get("/category/<slug>")
def category(slug):
    found = db.first_or_404(db.select(Category).where(Category.slug == slug))
    products = (
        db.session.execute(active_products().where(Product.category_id == found.id).order_by(Product.name))
        .scalars()
        .all()
    )
    return render_template("shop/category.html", category=found, products=products)


# The product page shows the category in its breadcrumb: one query loads both. The statement is built
# once: building it, and loading through joinedload, cost more than running it.
PRODUCT_PAGE = (
    active_products()
    .join(Product.category)
    .options(contains_eager(Product.category))
    .where(Product.slug == bindparam("slug"))
)


@bp.get("/product/<slug>")
def product(slug):
    found = db.session.execute(PRODUCT_PAGE, {"slug": slug}).scalar_one_or_none()
    if found is None:
        abort(404)
    return render_template("shop/product.html", product=found, form=CartLineForm(product_id=found.id))


@bp.get("/search")
def search():
    query = request.args.get("q", "").strip()[:SEARCH_MAX_LENGTH]
    results = []
    if query:
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        results = (
            db.session.execute(active_products().where(Product.name.ilike(pattern, escape="\\")).order_by(Product.name))
            .scalars()
            .all()
        )
    return render_template("shop/search.html", query=query, results=results)


def _product_from(form) -> Product:
    try:
        product_id = int(form.product_id.data)
    except (TypeError, ValueError):
        abort(400)
    if not 1 <= product_id <= 2**31 - 1:  # beyond the database's INTEGER: no such product
        abort(404)
    found = db.session.get(Product, product_id)
    if found is None or not found.active:
        abort(404)
    return found


@bp.get("/cart")
def cart():
    lines = priced_lines(g.cart)
    cookie_refused = request.args.get("check") == "1" and "cart" not in request.cookies and g.cart.count == 0
    return render_template(
        "shop/cart.html",
        lines=lines,
        total_cents=sum(line.total_cents for line in lines),
        cookie_refused=cookie_refused,
        line_form=CartLineForm(),
        action_form=ProductActionForm(),
    )


@bp.post("/cart/add")
def cart_add():
    form = CartLineForm(meta=CHECKED_ONLY)
    if not form.validate():
        flash(_first_error(form), "error")
        return redirect(url_for("shop.cart"), code=303)
    found = _product_from(form)
    if not g.cart.add(found.id, form.quantity.data):
        flash(
            f"Your cart is full: the browser cookie that holds it has no room for "
            f"{found.name}. Check out or remove something first; nothing was changed.",
            "error",
        )
        return redirect(url_for("shop.cart"), code=303)
    flash(f"Added {found.name} to your cart.", "success")
    return redirect(url_for("shop.cart", check=1), code=303)


@bp.post("/cart/update")
def cart_update():
    form = CartLineForm(meta=CHECKED_ONLY)
    if not form.validate():
        flash(_first_error(form), "error")
        return redirect(url_for("shop.cart"), code=303)
    found = _product_from(form)
    if not g.cart.set(found.id, form.quantity.data):
        flash("That quantity does not fit in the cart cookie; nothing was changed.", "error")
    return redirect(url_for("shop.cart"), code=303)


@bp.post("/cart/remove")
def cart_remove():
    form = ProductActionForm(meta=CHECKED_ONLY)
    if form.validate():
        try:
            g.cart.remove(int(form.product_id.data))
        except (TypeError, ValueError):
            abort(400)
    return redirect(url_for("shop.cart"), code=303)


@bp.post("/cart/empty")
def cart_empty():
    if ProductActionForm(meta=CHECKED_ONLY).validate():
        g.cart.clear()
        flash("Your cart is empty.", "success")
    return redirect(url_for("shop.cart"), code=303)


def _first_error(form) -> str:
    for errors in form.errors.values():
        if errors:
            return errors[0] if isinstance(errors[0], str) else "Please check the form."
    return "Please check the form."


@bp.after_request
def cart_pages_private(response):
    if request.endpoint and request.endpoint.startswith("shop.cart"):
        no_store(response)
    return response


def init_app(app):
    app.register_blueprint(bp)
    # Browsers ask for /favicon.ico whatever the page says. It is a static file
    # like any other: never recorded as a visit, and it sets no cookie.
    app.add_url_rule("/favicon.ico", endpoint="static", defaults={"filename": "favicon.ico"})

    @app.template_filter("money")
    def money(cents: int) -> str:
        return f"€{cents // 100:,}.{cents % 100:02d}"
