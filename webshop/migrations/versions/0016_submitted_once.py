"""submitted once: the digest of each submission's single-use form token, unique

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN and an index: on SQLite nothing rebuilds the table, so its triggers (0014) stay.
    op.add_column("submission", sa.Column("token_digest", sa.String(length=64), nullable=True))
    op.create_index("ix_submission_token_digest", "submission", ["token_digest"], unique=True)


def downgrade():
    op.drop_index("ix_submission_token_digest", table_name="submission")
    op.drop_column("submission", "token_digest")
