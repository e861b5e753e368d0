"""daily visit figures: a finished day's totals, pages, domains, visitor ids and addresses, archived; distinct counts over a span of days

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "visit_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("blocking", sa.Integer(), nullable=False),
        sa.Column("cart_adds", sa.Integer(), nullable=False),
        sa.Column("checkout_views", sa.Integer(), nullable=False),
        sa.Column("visitors", sa.Integer(), nullable=False),
        sa.Column("ips", sa.Integer(), nullable=False),
        sa.Column("archived_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "visit_day_page",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("label", sa.String(length=2048), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "label"),
    )
    op.create_table(
        "visit_day_domain",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "domain"),
    )
    op.create_table(
        "visit_day_visitor",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("visitor_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("day", "visitor_id"),
    )
    op.create_index("ix_visit_day_visitor_visitor", "visit_day_visitor", ["visitor_id", "day"])
    op.create_table(
        "visit_day_address",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.PrimaryKeyConstraint("day", "ip"),
    )
    op.create_index("ix_visit_day_address_ip", "visit_day_address", ["ip", "day"])
    op.create_table(
        "visit_span",
        sa.Column("first", sa.Date(), nullable=False),
        sa.Column("last", sa.Date(), nullable=False),
        sa.Column("visitors", sa.Integer(), nullable=False),
        sa.Column("ips", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("first", "last"),
    )


def downgrade():
    op.drop_table("visit_span")
    op.drop_index("ix_visit_day_address_ip", table_name="visit_day_address")
    op.drop_table("visit_day_address")
    op.drop_index("ix_visit_day_visitor_visitor", table_name="visit_day_visitor")
    op.drop_table("visit_day_visitor")
    op.drop_table("visit_day_domain")
    op.drop_table("visit_day_page")
    op.drop_table("visit_day")
