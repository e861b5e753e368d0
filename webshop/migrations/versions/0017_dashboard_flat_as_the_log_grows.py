"""the dashboard stays flat as the log grows: opt-outs per day and form, the span's domains, today archived by the hour

- ``submission_day_tally``: per UTC day of ``created_at`` and form, the submissions held and each
  opt-out box's count, filled from the rows and kept by triggers on ``submission`` as
  ``submission_tally`` is (0014); on PostgreSQL its trigger fires after ``submission_tally``'s
  (triggers fire in the order of their names), so every transaction locks a form's tally before
  that form's day tallies, the order erasure locks them in;
- ``visit_day.until``: set while a day is archived only up to that time (today, by the hour);
- ``visit_span.domains``: the span's confirmed domains and their visits. The spans are deleted
  first and counted again by the next ``flask visits archive`` (they are derived from the archive).

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

from webshop.migrations import tally_triggers

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

COUNTED = ("no_marketing", "no_share")
DAY = {"sqlite": "date({row}.created_at)", "postgresql": "CAST({row}.created_at AS date)"}
TRUE = {"sqlite": "1", "postgresql": "true"}
CHANGED = "kind, created_at, erased_at, no_marketing, no_share"
# On PostgreSQL, named to fire after submission_tally's trigger (see above).
TRIGGER = "submission_tally_zday"


def counted(row: str, dialect: str) -> dict[str, str]:
    """What one submission adds to its day and form's tally, as SQL over ``row`` (NEW, OLD or the table)."""
    return {c: f"CASE WHEN {row}.{c} IS {TRUE[dialect]} THEN 1 ELSE 0 END" for c in COUNTED}


def keys(row: str, dialect: str) -> dict[str, str]:
    return {"day": DAY[dialect].format(row=row), "kind": f"{row}.kind"}


def triggers(dialect: str) -> tuple[str, ...]:
    return tally_triggers.triggers(
        dialect,
        "submission_day_tally",
        TRIGGER,
        CHANGED,
        lambda row: tally_triggers.add("submission_day_tally", keys(row, dialect), counted(row, dialect)),
        lambda row: tally_triggers.take_away("submission_day_tally", keys(row, dialect), counted(row, dialect)),
    )


def upgrade():
    dialect = op.get_bind().dialect.name
    op.create_table(
        "submission_day_tally",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        *(sa.Column(column, sa.Integer(), nullable=False) for column in COUNTED),
        sa.PrimaryKeyConstraint("day", "kind"),
    )
    values = counted("submission", dialect)
    op.execute(
        f"INSERT INTO submission_day_tally (day, kind, held, {', '.join(COUNTED)})"
        f" SELECT {DAY[dialect].format(row='submission')}, kind, count(*),"
        f" {', '.join(f'sum({values[c]})' for c in COUNTED)}"
        f" FROM submission WHERE erased_at IS NULL GROUP BY {DAY[dialect].format(row='submission')}, kind"
    )
    for statement in triggers(dialect):
        op.execute(statement)
    op.add_column("visit_day", sa.Column("until", sa.DateTime(), nullable=True))
    op.execute("DELETE FROM visit_span")
    with op.batch_alter_table("visit_span", recreate="always") as batch:  # how SQLite adds a NOT NULL column
        batch.add_column(sa.Column("domains", sa.JSON(), nullable=False))


def downgrade():
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("visit_span") as batch:
        batch.drop_column("domains")
    with op.batch_alter_table("visit_day") as batch:
        batch.drop_column("until")
    for statement in tally_triggers.dropped(dialect, "submission_day_tally", TRIGGER):
        op.execute(statement)
    op.drop_table("submission_day_tally")
