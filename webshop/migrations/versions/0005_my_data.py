"""access links of the your-data pages

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "access_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("new_email", sa.String(length=254), nullable=True),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_access_link_email", "access_link", ["email"])
    op.create_index("ix_access_link_created", "access_link", ["created_at"])


def downgrade():
    op.drop_index("ix_access_link_created", table_name="access_link")
    op.drop_index("ix_access_link_email", table_name="access_link")
    op.drop_table("access_link")
