"""figures that stay quick as the data grows: per-form submission tallies, the share candidates, visits by path

- ``submission_tally``: per form, the submissions held, their opt-outs and those with an address,
  filled from the rows and kept by triggers on ``submission`` in every statement that changes one;
- ``ix_submission_share_candidates``: the submissions no rule about the submission itself keeps
  from sharing (webshop.rules), by address;
- ``ix_visit_path_time``, on PostgreSQL with ``visit.path`` compared byte by byte ("C"), as SQLite
  compares it: a path prefix is one range of the index.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

from webshop.migrations import tally_triggers

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

COUNTED = ("no_marketing", "no_share", "with_address")
SHARE_CANDIDATES = {
    "sqlite": "NOT (no_share IS 1 AND blocking_signal IS NOT 1) AND blocking_signal IS NOT 1"
    " AND withdrawn_at IS NULL AND erased_at IS NULL AND email IS NOT NULL AND proven_at IS NOT NULL",
    "postgresql": "NOT (no_share IS true AND blocking_signal IS NOT true) AND blocking_signal IS NOT true"
    " AND withdrawn_at IS NULL AND erased_at IS NULL AND email IS NOT NULL AND proven_at IS NOT NULL",
}


def counted(row: str, true: str) -> dict[str, str]:
    """What one submission adds to its form's tally, as SQL over ``row`` (NEW, OLD or the table)."""
    return {
        "no_marketing": f"CASE WHEN {row}.no_marketing IS {true} THEN 1 ELSE 0 END",
        "no_share": f"CASE WHEN {row}.no_share IS {true} THEN 1 ELSE 0 END",
        "with_address": f"CASE WHEN {row}.email IS NOT NULL THEN 1 ELSE 0 END",
    }


def add(row: str, true: str) -> str:
    """SQL adding the submission ``row`` to its form's tally (a new form gets its row)."""
    return tally_triggers.add("submission_tally", {"kind": f"{row}.kind"}, counted(row, true))


def take_away(row: str, true: str) -> str:
    """SQL taking the submission ``row`` out of its form's tally."""
    return tally_triggers.take_away("submission_tally", {"kind": f"{row}.kind"}, counted(row, true))


CHANGED = "kind, erased_at, email, no_marketing, no_share"
SQLITE_TRIGGERS = tally_triggers.triggers(
    "sqlite", "submission_tally", "submission_tally", CHANGED, lambda row: add(row, "1"), lambda row: take_away(row, "1")
)
POSTGRESQL_TRIGGERS = tally_triggers.triggers(
    "postgresql",
    "submission_tally",
    "submission_tally",
    CHANGED,
    lambda row: add(row, "true"),
    lambda row: take_away(row, "true"),
)


def upgrade():
    dialect = op.get_bind().dialect.name
    op.create_table(
        "submission_tally",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("held", sa.Integer(), nullable=False),
        *(sa.Column(column, sa.Integer(), nullable=False) for column in COUNTED),
    )
    values = counted("submission", "true" if dialect == "postgresql" else "1")
    op.execute(
        f"INSERT INTO submission_tally (kind, held, {', '.join(COUNTED)})"
        f" SELECT kind, count(*), {', '.join(f'sum({values[c]})' for c in COUNTED)}"
        " FROM submission WHERE erased_at IS NULL GROUP BY kind"
    )
    for statement in POSTGRESQL_TRIGGERS if dialect == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)
    op.create_index(
        "ix_submission_share_candidates",
        "submission",
        ["email", "kind", "no_share", "blocking_signal", "withdrawn_at", "erased_at", "proven_at"],
        sqlite_where=sa.text(SHARE_CANDIDATES["sqlite"]),
        postgresql_where=sa.text(SHARE_CANDIDATES["postgresql"]),
    )
    if dialect == "postgresql":
        op.alter_column("visit", "path", type_=sa.String(2048, collation="C"), existing_nullable=False)
    op.create_index("ix_visit_path_time", "visit", ["path", "time"])


def downgrade():
    dialect = op.get_bind().dialect.name
    op.drop_index("ix_visit_path_time", table_name="visit")
    if dialect == "postgresql":
        op.alter_column("visit", "path", type_=sa.String(2048), existing_nullable=False)
    op.drop_index("ix_submission_share_candidates", table_name="submission")
    for statement in tally_triggers.dropped(dialect, "submission_tally", "submission_tally"):
        op.execute(statement)
    op.drop_table("submission_tally")
