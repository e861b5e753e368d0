"""consent both ways: the consent log, frozen receipts, withdrawal, newsletter preferences

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "consent_decision",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("policy_version", sa.String(20), nullable=False),
        sa.Column("choice", sa.String(10), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("visitor_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_consent_decision_visitor", "consent_decision", ["visitor_id"])
    op.create_index("ix_consent_decision_at", "consent_decision", ["at"])
    with op.batch_alter_table("submission") as batch:
        batch.add_column(sa.Column("receipt_document", sa.Text(), nullable=True))
        batch.add_column(sa.Column("withdrawn_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("subscription") as batch:
        batch.add_column(sa.Column("confirmed_ip", sa.String(45), nullable=True))
        batch.add_column(sa.Column("paused_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("subscription") as batch:
        batch.drop_column("paused_at")
        batch.drop_column("confirmed_ip")
    with op.batch_alter_table("submission") as batch:
        batch.drop_column("withdrawn_at")
        batch.drop_column("receipt_document")
    op.drop_index("ix_consent_decision_at", table_name="consent_decision")
    op.drop_index("ix_consent_decision_visitor", table_name="consent_decision")
    op.drop_table("consent_decision")
