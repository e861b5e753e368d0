"""sharing ledger, recipients, per-address preferences and the audit log

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_event_at", "audit_event", ["at"])
    op.create_table(
        "email_preference",
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("marketing_off", sa.Boolean(), nullable=False),
        sa.Column("sharing_off", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("email"),
    )
    op.create_table(
        "recipient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "sharing_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("staff_name", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["recipient_id"], ["recipient.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "sharing_ledger_item",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["sharing_ledger.id"]),
        sa.ForeignKeyConstraint(["submission_id"], ["submission.id"]),
        sa.PrimaryKeyConstraint("entry_id", "submission_id"),
    )
    op.create_index("ix_sharing_ledger_item_submission_id", "sharing_ledger_item", ["submission_id"])


def downgrade():
    op.drop_index("ix_sharing_ledger_item_submission_id", table_name="sharing_ledger_item")
    op.drop_table("sharing_ledger_item")
    op.drop_table("sharing_ledger")
    op.drop_table("recipient")
    op.drop_table("email_preference")
    op.drop_index("ix_audit_event_at", table_name="audit_event")
    op.drop_table("audit_event")
