"""The catalogue: categories and the products they hold."""

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import db


class Category(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    blurb: Mapped[str] = mapped_column(String(300), default="")

    products: Mapped[list["Product"]] = relationship(back_populates="category", order_by="Product.name")


class Product(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    price_cents: Mapped[int]
    # Withdrawn products stay in the table (old orders point at them) but
    # cannot be bought; carts holding them drop them with a notice.
    active: Mapped[bool] = mapped_column(default=True)
    # The picture is drawn, not downloaded: a hue and a motif.
    hue: Mapped[int] = mapped_column(default=200)
    motif: Mapped[str] = mapped_column(String(20), default="box")

    category: Mapped[Category] = relationship(back_populates="products")
