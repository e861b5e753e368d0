"""Recipients, the default-deny marketing export and the sharing ledger pages.

An export holds only what :func:`webshop.rules.shareable_submissions`
allows, and only the fields a marketing list needs: email, name, which
form, and the date. Every export, from the web or ``flask share export``,
writes a ledger entry naming exactly which submissions went where.
"""

import csv
import io
import json
import re

from flask import Response, flash, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from ..db import db
from ..fields import PlainText
from ..ledger import record_export
from ..models import LedgerEntry, Recipient, Submission, audit
from ..rules import SHARING, shareable_submissions
from .auth import bp, staff_actor

EXPORT_FIELDS = ("email", "name", "kind", "date")
FORMATS = ("csv", "json")
DEFAULT_PURPOSE = "Marketing"
# Spreadsheet programs run a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_row(submission: Submission) -> dict:
    return {
        "email": submission.email,
        "name": submission.name or "",
        "kind": submission.kind,
        "date": submission.created_at.date().isoformat(),
    }


def run_export(recipient: Recipient, purpose: str, staff_name: str, actor: str) -> tuple[LedgerEntry, list[dict]]:
    """Select what may be shared, write the ledger entry and an audit line, commit."""
    submissions = db.session.execute(shareable_submissions()).scalars().all()
    entry = record_export(recipient, purpose, staff_name, submissions)
    db.session.flush()
    audit(actor, "marketing_export", ledger_entry_id=entry.id, recipient_id=recipient.id, records=len(submissions))
    db.session.commit()
    return entry, [export_row(s) for s in submissions]


def spreadsheet_safe(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value


def as_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: spreadsheet_safe(str(v)) for k, v in row.items()})
    return out.getvalue()


def as_json(entry: LedgerEntry, rows: list[dict]) -> str:
    return json.dumps(
        {
            "recipient": entry.recipient.name,
            "purpose": entry.purpose,
            "exported_at": entry.created_at.isoformat(timespec="seconds") + "Z",
            "ledger_entry": entry.id,
            "records": rows,
        },
        indent=2,
        ensure_ascii=False,
    )


def render_export(entry: LedgerEntry, rows: list[dict], fmt: str) -> str:
    return as_csv(rows) if fmt == "csv" else as_json(entry, rows)


def find_recipient(name: str) -> Recipient | None:
    return db.session.execute(db.select(Recipient).where(Recipient.name == name)).scalar_one_or_none()


# --- Pages ---------------------------------------------------------------------------------


class RecipientForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired("Give the recipient a name."), Length(max=120), PlainText()])
    kind = RadioField(
        "Kind",
        choices=[
            SelectChoice(Recipient.AFFILIATE, "Affiliated organisation"),
            SelectChoice(Recipient.THIRD_PARTY, "Third party"),
        ],
        default=Recipient.THIRD_PARTY,
        validators=[InputRequired("Choose a kind.")],
    )
    description = TextAreaField("What they do with the list", validators=[Length(max=1000), PlainText(multiline=True)])


class ExportForm(FlaskForm):
    recipient = SelectField(
        "Recipient",
        coerce=int,
        validators=[InputRequired("Choose a recipient.")],
        render_kw={"required": False},  # every option is a recipient: nothing to leave unchosen
    )
    purpose = StringField(
        "Purpose",
        default=DEFAULT_PURPOSE,
        validators=[InputRequired("Say what the list is for."), Length(max=200), PlainText()],
    )
    format = RadioField("Format", choices=[SelectChoice("csv", "CSV"), SelectChoice("json", "JSON")], default="csv")


def all_recipients() -> list[Recipient]:
    return db.session.execute(db.select(Recipient).order_by(Recipient.name)).scalars().all()


@bp.route("/recipients", methods=["GET", "POST"])
def recipients():
    form = RecipientForm()
    if form.validate_on_submit():
        name = form.name.data.strip()
        if find_recipient(name):
            form.name.errors.append("A recipient with that name already exists.")
        else:
            db.session.add(Recipient(name=name, kind=form.kind.data, description=form.description.data.strip()))
            db.session.commit()
            flash(f"Recipient {name} added.", "success")
            return redirect(url_for("staff.recipients"), code=303)
    return render_template("staff/recipients.html", form=form, recipients=all_recipients())


@bp.route("/export", methods=["GET", "POST"])
def export():
    form = ExportForm()
    choices = all_recipients()
    form.recipient.choices = [SelectChoice(r.id, f"{r.name} ({r.kind})") for r in choices]
    if form.validate_on_submit():
        recipient = db.get_or_404(Recipient, form.recipient.data)
        entry, rows = run_export(recipient, form.purpose.data.strip(), g.staff.name, staff_actor())
        fmt = form.format.data if form.format.data in FORMATS else "csv"
        slug = re.sub(r"[^a-z0-9]+", "-", recipient.name.lower()).strip("-") or "recipient"
        filename = f"marketing-{slug}-{entry.created_at:%Y%m%d}-{entry.id}.{fmt}"
        return Response(
            render_export(entry, rows, fmt),
            mimetype="text/csv" if fmt == "csv" else "application/json",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    shareable = db.session.execute(
        shareable_submissions().with_only_columns(db.func.count()).order_by(None)
    ).scalar_one()
    return render_template(
        "staff/export.html", form=form, has_recipients=bool(choices), shareable=shareable, rules=SHARING.rules
    )


@bp.get("/ledger")
def ledger():
    entries = db.session.execute(db.select(LedgerEntry).order_by(LedgerEntry.created_at.desc())).scalars().all()
    return render_template("staff/ledger.html", entries=entries)


@bp.get("/ledger/<int:entry_id>")
def ledger_entry(entry_id):
    entry = db.get_or_404(LedgerEntry, entry_id)
    return render_template("staff/ledger_entry.html", entry=entry)
