"""visits by visitor in time order: one index serves a visitor's visits newest first, without a sort

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_visit_visitor_time", "visit", ["visitor_id", "time"])
    op.drop_index("ix_visit_visitor", table_name="visit")


def downgrade():
    op.create_index("ix_visit_visitor", "visit", ["visitor_id"])
    op.drop_index("ix_visit_visitor_time", table_name="visit")
