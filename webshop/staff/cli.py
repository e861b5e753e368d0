"""``flask staff`` and ``flask share``: what an operator does from the command line.

Accounts: ``create``, ``list``, ``reset-password`` and ``remove``.
Marketing lists: ``recipients add|list|remove`` and ``export``, default-deny
like the export page and written to the same sharing ledger.
"""

import getpass
import os
import sys
from contextlib import nullcontext

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func
from werkzeug.security import generate_password_hash

from ..db import db
from ..fields import invisible_characters
from ..models import LedgerEntry, Recipient, StaffSession, StaffUser, audit
from ..private_files import create_output
from ..text import plural
from .auth import NAME_RE, clear_account_failures
from .export import DEFAULT_PURPOSE, FORMATS, all_recipients, find_recipient, render_export, run_export

PASSWORD_ENV = "WEBSHOP_STAFF_PASSWORD"
RECIPIENT_KINDS = {"affiliate": Recipient.AFFILIATE, "third-party": Recipient.THIRD_PARTY}


def cli_actor() -> str:
    """The actor of a command-line action: the operating-system user who ran it."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


# --- ``flask staff`` ---------------------------------------------------------------------


@click.group("staff")
def staff_group():
    """Staff accounts for the /admin pages."""


def password_problem(password: str) -> str | None:
    minimum = current_app.config["STAFF_PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        return f"The password must have at least {minimum} characters."
    if len(password) > 200:
        return "The password must have at most 200 characters."
    return None


def read_password(prompt: str) -> str:
    """The new password: from WEBSHOP_STAFF_PASSWORD, or asked for twice without echo."""
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        password = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    problem = password_problem(password)
    if problem:
        raise click.ClickException(problem)
    return password


def existing_account(name: str) -> StaffUser:
    user = db.session.execute(db.select(StaffUser).where(StaffUser.name == name)).scalar_one_or_none()
    if user is None:
        known = ", ".join(db.session.scalars(db.select(StaffUser.name).order_by(StaffUser.name))) or "none yet"
        raise click.ClickException(f"No staff account named {name!r} (accounts: {known}).")
    return user


@staff_group.command("create")
@click.argument("name")
@with_appcontext
def create_command(name):
    """Create staff account NAME. The password is asked for, or read from WEBSHOP_STAFF_PASSWORD."""
    if not NAME_RE.match(name):
        raise click.BadParameter("use up to 80 letters, digits, '.', '_' or '-'", param_hint="NAME")
    if db.session.execute(db.select(StaffUser.id).where(StaffUser.name == name)).first():
        raise click.ClickException(f"A staff account named {name!r} already exists.")
    password = read_password("Password")
    db.session.add(StaffUser(name=name, password_hash=generate_password_hash(password)))
    audit(cli_actor(), "staff_created", name=name)
    db.session.commit()
    click.echo(f"Staff account {name!r} created; sign in at /admin/login.")


@staff_group.command("list")
@with_appcontext
def list_command():
    """List staff accounts: when each was made, last signed in, and how many browsers are signed in."""
    sessions = db.select(StaffSession.staff_id, func.count().label("open")).group_by(StaffSession.staff_id).subquery()
    rows = db.session.execute(
        db.select(StaffUser, func.coalesce(sessions.c.open, 0))
        .outerjoin(sessions, sessions.c.staff_id == StaffUser.id)
        .order_by(StaffUser.name)
    ).all()
    if not rows:
        click.echo("No staff accounts yet. Make one with: .venv/bin/flask --app webshop staff create NAME")
        return
    width = max(len(user.name) for user, _ in rows)
    for user, open_sessions in rows:
        last = f"{user.last_sign_in_at:%Y-%m-%d %H:%M} UTC" if user.last_sign_in_at else "never"
        click.echo(
            f"{user.name:<{width}}  created {user.created_at:%Y-%m-%d}  last sign-in {last}  "
            f"{plural(open_sessions, 'session')} open"
        )


@staff_group.command("reset-password")
@click.argument("name")
@with_appcontext
def reset_password_command(name):
    """Give NAME a new password (asked for, or WEBSHOP_STAFF_PASSWORD) and sign NAME out everywhere."""
    user = existing_account(name)
    password = read_password("New password")
    user.password_hash = generate_password_hash(password)
    ended = db.session.execute(db.delete(StaffSession).where(StaffSession.staff_id == user.id)).rowcount
    clear_account_failures(name)
    audit(cli_actor(), "staff_password_reset", staff_id=user.id, sessions_ended=ended)
    db.session.commit()
    click.echo(f"Password of {name!r} changed; {plural(ended, 'signed-in browser')} signed out.")


@staff_group.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def remove_command(name, yes):
    """Remove staff account NAME; its signed-in browsers are signed out at once."""
    user = existing_account(name)
    if not yes:
        click.confirm(f"Remove staff account {name!r}? It is signed out everywhere.", abort=True)
    staff_id = user.id
    db.session.delete(user)
    clear_account_failures(name)
    audit(cli_actor(), "staff_removed", staff_id=staff_id)
    db.session.commit()
    click.echo(f"Staff account {name!r} removed.")


# --- ``flask share`` ----------------------------------------------------------------------


@click.group("share")
def share_group():
    """Marketing lists for recipients, default-deny, each written to the sharing ledger."""


@share_group.group("recipients")
def recipients_group():
    """The organisations marketing lists may be exported to."""


def clean_text(value: str, what: str, limit: int, *, required: bool) -> str:
    value = value.strip()
    if required and not value:
        raise click.BadParameter(f"give the {what}", param_hint=what.upper())
    if len(value) > limit:
        raise click.BadParameter(f"keep the {what} to {limit} characters", param_hint=what.upper())
    if invisible_characters(value) or any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
        raise click.BadParameter(f"remove control or invisible characters from the {what}", param_hint=what.upper())
    return value


@recipients_group.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(sorted(RECIPIENT_KINDS)), default="third-party", show_default=True)
@click.option("--description", default="", help="What they do with the list (shown to visitors).")
@with_appcontext
def recipients_add_command(name, kind, description):
    """Add recipient NAME, an affiliated organisation or a third party."""
    name = clean_text(name, "name", 120, required=True)
    description = clean_text(description, "description", 1000, required=False)
    if find_recipient(name):
        raise click.ClickException(f"A recipient named {name!r} already exists.")
    db.session.add(Recipient(name=name, kind=RECIPIENT_KINDS[kind], description=description))
    audit(cli_actor(), "recipient_added", kind=kind)
    db.session.commit()
    click.echo(f"Recipient {name!r} added ({RECIPIENT_KINDS[kind]}).")


@recipients_group.command("list")
@with_appcontext
def recipients_list_command():
    """List recipients with how many exports each has received."""
    exports = dict(
        db.session.execute(db.select(LedgerEntry.recipient_id, func.count()).group_by(LedgerEntry.recipient_id)).all()
    )
    found = all_recipients()
    if not found:
        click.echo("No recipients yet. Add one with: .venv/bin/flask --app webshop share recipients add NAME")
        return
    for recipient in found:
        line = f"{recipient.name} ({recipient.kind}): {plural(exports.get(recipient.id, 0), 'export')}"
        click.echo(line + (f" — {recipient.description}" if recipient.description else ""))


@recipients_group.command("remove")
@click.argument("name")
@with_appcontext
def recipients_remove_command(name):
    """Remove recipient NAME, if nothing was ever exported to it (the ledger keeps every export)."""
    recipient = find_recipient(name)
    if recipient is None:
        raise click.ClickException(f"No recipient named {name!r}.")
    exports = db.session.scalar(
        db.select(func.count()).select_from(LedgerEntry).where(LedgerEntry.recipient_id == recipient.id)
    )
    if exports:
        raise click.ClickException(
            f"{name!r} has received {plural(exports, 'export')}; the sharing ledger keeps them, "
            "and visitors see them on their data page, so the recipient stays."
        )
    db.session.delete(recipient)
    audit(cli_actor(), "recipient_removed")
    db.session.commit()
    click.echo(f"Recipient {name!r} removed.")


@share_group.command("export")
@click.option(
    "--recipient", "recipient_name", required=True, help="The recipient's name (flask share recipients list)."
)
@click.option("--purpose", default=DEFAULT_PURPOSE, show_default=True, help="What the list is for.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), help="A new file to write, created 0600; default stdout.")
@with_appcontext
def export_command(recipient_name, purpose, fmt, output):
    """Export the shareable records for a recipient and record it in the sharing ledger."""
    recipient = find_recipient(recipient_name)
    if recipient is None:
        known = ", ".join(r.name for r in all_recipients()) or "none yet"
        raise click.ClickException(f"No recipient named {recipient_name!r} (known: {known}).")
    purpose = purpose.strip()
    if not purpose or len(purpose) > 200:
        raise click.BadParameter("give a purpose of 1 to 200 characters", param_hint="--purpose")
    actor = cli_actor()
    with create_output(output) if output else nullcontext(sys.stdout) as handle:
        entry, rows = run_export(recipient, purpose, actor, actor)
        handle.write(render_export(entry, rows, fmt))
    click.echo(f"{len(rows)} records exported to {recipient.name}; ledger entry {entry.id}.", err=True)
