"""proof of the address on each submission

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("submission") as batch:
        batch.add_column(sa.Column("proven_at", sa.DateTime(), nullable=True))
    # The signups whose own confirmation link was followed are proven. A
    # subscription points at its latest signup, which after an unsubscribe
    # may be a newer, unconfirmed one: only a signup made before the
    # confirmation can be the one that was confirmed.
    submission = sa.table(
        "submission", sa.column("id", sa.Integer), sa.column("created_at", sa.DateTime), sa.column("proven_at", sa.DateTime)
    )
    subscription = sa.table(
        "subscription", sa.column("submission_id", sa.Integer), sa.column("confirmed_at", sa.DateTime)
    )
    confirmation = (
        sa.select(subscription.c.confirmed_at)
        .where(
            subscription.c.submission_id == submission.c.id,
            subscription.c.confirmed_at.is_not(None),
            subscription.c.confirmed_at >= submission.c.created_at,
        )
        .scalar_subquery()
    )
    op.get_bind().execute(submission.update().where(confirmation.is_not(None)).values(proven_at=confirmation))


def downgrade():
    with op.batch_alter_table("submission") as batch:
        batch.drop_column("proven_at")
