"""SQL for a tally of submissions kept by triggers on ``submission`` (migrations 0014 and 0017).

A tally row holds, per key (a form, or a day and a form), the submissions held (not erased) and
counts of some property of theirs. The triggers change it in the statement that adds, erases or
changes a submission, whatever code or SQL makes the change. Only migrations use this module; what
it writes for a migration must never change once that migration has run somewhere.
"""


def add(table: str, keys: dict[str, str], values: dict[str, str]) -> str:
    """SQL adding one submission to its tally (a new key gets its row); ``keys`` and ``values`` map each
    column to its SQL over the submission (NEW, OLD or the table)."""
    return (
        f"INSERT INTO {table} ({', '.join(keys)}, held, {', '.join(values)})"
        f" VALUES ({', '.join(keys.values())}, 1, {', '.join(values.values())})"
        f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET held = {table}.held + 1, "
        + ", ".join(f"{column} = {table}.{column} + excluded.{column}" for column in values)
    )


def take_away(table: str, keys: dict[str, str], values: dict[str, str]) -> str:
    """SQL taking one submission out of its tally."""
    return (
        f"UPDATE {table} SET held = held - 1, "
        + ", ".join(f"{column} = {column} - {value}" for column, value in values.items())
        + " WHERE "
        + " AND ".join(f"{column} = {value}" for column, value in keys.items())
    )


def triggers(dialect: str, name: str, trigger: str, changed: str, adding, taking_away) -> tuple[str, ...]:
    """The statements creating the triggers: on SQLite four named ``{name}_insert``, ``_delete``,
    ``_update_old`` and ``_update_new``; on PostgreSQL the function ``{name}_change()`` and the row
    trigger ``trigger`` (PostgreSQL fires a table's triggers in the order of their names).
    ``changed``: the columns whose update moves a tally; ``adding`` and ``taking_away``: the SQL
    of :func:`add` and :func:`take_away` for a row name."""
    if dialect == "postgresql":
        return (
            f"""CREATE FUNCTION {name}_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            IF OLD.erased_at IS NULL THEN {taking_away("OLD")}; END IF;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            IF NEW.erased_at IS NULL THEN {adding("NEW")}; END IF;
        END IF;
        RETURN NULL;
    END $$""",
            f"""CREATE TRIGGER {trigger}
    AFTER INSERT OR DELETE OR UPDATE OF {changed} ON submission
    FOR EACH ROW EXECUTE FUNCTION {name}_change()""",
        )
    return (
        f"""CREATE TRIGGER {name}_insert AFTER INSERT ON submission WHEN NEW.erased_at IS NULL
    BEGIN {adding("NEW")}; END""",
        f"""CREATE TRIGGER {name}_delete AFTER DELETE ON submission WHEN OLD.erased_at IS NULL
    BEGIN {taking_away("OLD")}; END""",
        f"""CREATE TRIGGER {name}_update_old
    AFTER UPDATE OF {changed} ON submission WHEN OLD.erased_at IS NULL
    BEGIN {taking_away("OLD")}; END""",
        f"""CREATE TRIGGER {name}_update_new
    AFTER UPDATE OF {changed} ON submission WHEN NEW.erased_at IS NULL
    BEGIN {adding("NEW")}; END""",
    )


def dropped(dialect: str, name: str, trigger: str) -> tuple[str, ...]:
    """The statements dropping what :func:`triggers` created."""
    if dialect == "postgresql":
        return (f"DROP TRIGGER {trigger} ON submission", f"DROP FUNCTION {name}_change()")
    return tuple(f"DROP TRIGGER {name}_{event}" for event in ("insert", "delete", "update_old", "update_new"))
