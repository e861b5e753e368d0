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
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None

COUNTED = ("no_marketing", "no_share")
DAY = {"sqlite": "date({row}.created_at)", "postgresql": "CAST({row}.created_at AS date)"}
TRUE = {"sqlite": "1", "postgresql": "true"}
CHANGED = "kind, created_at, erased_at, no_marketing, no_share"


def counted(row: str, dialect: str) -> dict[str, str]:
    """What one submission adds to its day and form's tally, as SQL over ``row`` (NEW, OLD or the table)."""
    return {c: f"CASE WHEN {row}.{c} IS {TRUE[dialect]} THEN 1 ELSE 0 END" for c in COUNTED}


def add(row: str, dialect: str) -> str:
    values = counted(row, dialect)
    return (
        f"INSERT INTO submission_day_tally (day, kind, held, {', '.join(COUNTED)})"
        f" VALUES ({DAY[dialect].format(row=row)}, {row}.kind, 1, {', '.join(values[c] for c in COUNTED)})"
        " ON CONFLICT (day, kind) DO UPDATE SET held = submission_day_tally.held + 1, "
        + ", ".join(f"{c} = submission_day_tally.{c} + excluded.{c}" for c in COUNTED)
    )


def take_away(row: str, dialect: str) -> str:
    values = counted(row, dialect)
    return (
        "UPDATE submission_day_tally SET held = held - 1, "
        + ", ".join(f"{c} = {c} - {values[c]}" for c in COUNTED)
        + f" WHERE day = {DAY[dialect].format(row=row)} AND kind = {row}.kind"
    )


def triggers(dialect: str) -> tuple[str, ...]:
    if dialect == "postgresql":
        return (
            f"""CREATE FUNCTION submission_day_tally_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP <> 'INSERT' THEN
                    IF OLD.erased_at IS NULL THEN {take_away("OLD", dialect)}; END IF;
                END IF;
                IF TG_OP <> 'DELETE' THEN
                    IF NEW.erased_at IS NULL THEN {add("NEW", dialect)}; END IF;
                END IF;
                RETURN NULL;
            END $$""",
            f"""CREATE TRIGGER submission_tally_zday
            AFTER INSERT OR DELETE OR UPDATE OF {CHANGED} ON submission
            FOR EACH ROW EXECUTE FUNCTION submission_day_tally_change()""",
        )
    return (
        f"""CREATE TRIGGER submission_day_tally_insert AFTER INSERT ON submission WHEN NEW.erased_at IS NULL
        BEGIN {add("NEW", dialect)}; END""",
        f"""CREATE TRIGGER submission_day_tally_delete AFTER DELETE ON submission WHEN OLD.erased_at IS NULL
        BEGIN {take_away("OLD", dialect)}; END""",
        f"""CREATE TRIGGER submission_day_tally_update_old AFTER UPDATE OF {CHANGED} ON submission
        WHEN OLD.erased_at IS NULL BEGIN {take_away("OLD", dialect)}; END""",
        f"""CREATE TRIGGER submission_day_tally_update_new AFTER UPDATE OF {CHANGED} ON submission
        WHEN NEW.erased_at IS NULL BEGIN {add("NEW", dialect)}; END""",
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
    if dialect == "postgresql":
        op.execute("DROP TRIGGER submission_tally_zday ON submission")
        op.execute("DROP FUNCTION submission_day_tally_change()")
    else:
        for name in ("insert", "delete", "update_old", "update_new"):
            op.execute(f"DROP TRIGGER submission_day_tally_{name}")
    op.drop_table("submission_day_tally")
