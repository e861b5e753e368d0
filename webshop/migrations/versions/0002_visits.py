"""visits

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "visit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("domain", sa.String(length=255), nullable=True),
        sa.Column("domain_confirmed", sa.Boolean(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("path", sa.String(length=2048), nullable=False),
        sa.Column("query", sa.String(length=2048), nullable=False),
        sa.Column("protocol", sa.String(length=16), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("response_bytes", sa.Integer(), nullable=True),
        sa.Column("response_ms", sa.Float(), nullable=False),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("referrer", sa.String(length=1024), nullable=True),
        sa.Column("visitor_id", sa.String(length=64), nullable=True),
        sa.Column("blocking_signal", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uid"),
    )
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.create_index("ix_visit_time", ["time"], unique=False)
        batch_op.create_index("ix_visit_visitor", ["visitor_id"], unique=False)
        batch_op.create_index("ix_visit_ip", ["ip"], unique=False)


def downgrade():
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.drop_index("ix_visit_ip")
        batch_op.drop_index("ix_visit_visitor")
        batch_op.drop_index("ix_visit_time")
    op.drop_table("visit")
