"""staff account ids are never reused (SQLite AUTOINCREMENT)

On SQLite an INTEGER PRIMARY KEY without AUTOINCREMENT hands the highest
deleted id to the next row, so a session left behind by a removed account
would sign in as the next one. PostgreSQL ids come from a sequence and are
never reused already: nothing changes there.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

staff_session = sa.table(
    "staff_session",
    sa.column("token_hash", sa.String),
    sa.column("staff_id", sa.Integer),
    sa.column("created_at", sa.DateTime),
    sa.column("expires_at", sa.DateTime),
)


def recreate_staff_user(autoincrement: bool):
    """Rebuild staff_user, keeping every account and every live session.

    Dropping the old table while foreign keys are on would cascade to
    staff_session, so the sessions are kept aside and put back; sessions of
    accounts already gone (left where foreign keys were off) are not, since
    their id could otherwise still go to the next account.
    """
    conn = op.get_bind()
    staff_ids = sa.select(sa.column("id")).select_from(sa.table("staff_user"))
    sessions = [
        dict(row._mapping)
        for row in conn.execute(sa.select(staff_session).where(staff_session.c.staff_id.in_(staff_ids)))
    ]
    with op.batch_alter_table(
        "staff_user", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass
    conn.execute(staff_session.delete())
    if sessions:
        conn.execute(staff_session.insert(), sessions)


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        recreate_staff_user(autoincrement=True)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        recreate_staff_user(autoincrement=False)
