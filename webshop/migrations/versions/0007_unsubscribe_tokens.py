"""stored one-click unsubscribe tokens, independent of the secret key

Revision ID: 0007
Revises: 0006
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("subscription", sa.Column("unsubscribe_token", sa.String(length=43), nullable=True))
    subscription = sa.table("subscription", sa.column("id", sa.Integer), sa.column("unsubscribe_token", sa.String))
    conn = op.get_bind()
    for (subscription_id,) in conn.execute(sa.select(subscription.c.id)).all():
        conn.execute(
            subscription.update()
            .where(subscription.c.id == subscription_id)
            .values(unsubscribe_token=secrets.token_urlsafe(32))
        )
    with op.batch_alter_table("subscription") as batch:
        batch.alter_column("unsubscribe_token", existing_type=sa.String(length=43), nullable=False)
        batch.create_unique_constraint("uq_subscription_unsubscribe_token", ["unsubscribe_token"])


def downgrade():
    with op.batch_alter_table("subscription") as batch:
        batch.drop_constraint("uq_subscription_unsubscribe_token", type_="unique")
        batch.drop_column("unsubscribe_token")
