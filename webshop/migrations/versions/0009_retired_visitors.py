"""retired visitor ids, as SHA-256 hashes: ids whose visits were erased

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "retired_visitor",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("retired_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id_hash"),
    )


def downgrade():
    op.drop_table("retired_visitor")
