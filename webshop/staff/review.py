"""Submissions review per form, survey results summarised, board and chat moderation."""

from collections import Counter

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import func
from wtforms import HiddenField
from wtforms.validators import AnyOf

from ..db import db
from ..models import BoardPost, ChatMessage, Submission, audit
from ..stats import percent
from ..submissions import FORM_KINDS
from ..survey import FOUND_US, RATINGS, SHOPPED_FOR
from .auth import bp, staff_actor
from .charts import bar_list

PER_PAGE = 50
MAX_PAGE = 10_000
MODERATED = {"board": BoardPost, "chat": ChatMessage}


class ModerationForm(FlaskForm):
    action = HiddenField(validators=[AnyOf(["hide", "restore"])])


def kept_submissions():
    return db.select(Submission).where(Submission.erased_at.is_(None))


@bp.get("/submissions")
def submissions_index():
    counts = dict(
        db.session.execute(
            db.select(Submission.kind, func.count()).where(Submission.erased_at.is_(None)).group_by(Submission.kind)
        ).all()
    )
    return render_template("staff/submissions_index.html", counts=counts)


def survey_summary() -> dict:
    """Counts and percentages per answer over every kept survey."""
    answers = (
        db.session.execute(kept_submissions().with_only_columns(Submission.fields).where(Submission.kind == "survey"))
        .scalars()
        .all()
    )
    respondents = len(answers)
    ratings, shopped, found = Counter(), Counter(), Counter()
    for fields in answers:
        ratings[str(fields.get("rating", ""))] += 1
        shopped.update(str(v) for v in fields.get("shopped_for") or [])
        found[str(fields.get("found_us", ""))] += 1

    def question(title, choices, counter, note=""):
        rows = [
            {
                "label": c.label,
                "count": counter.get(c.value, 0),
                "percent": percent(counter.get(c.value, 0), respondents),
            }
            for c in choices
            if c.value
        ]
        chart = bar_list([(r["label"], r["percent"]) for r in rows], unit=" %", maximum=100)
        return {"title": title, "rows": rows, "chart": chart, "note": note}

    return {
        "respondents": respondents,
        "questions": [
            question("Overall rating", RATINGS, ratings),
            question(
                "What they shopped for",
                SHOPPED_FOR,
                shopped,
                "Several answers allowed, so the shares add up to more than 100 %.",
            ),
            question("How they found the shop", FOUND_US, found),
        ],
    }


@bp.get("/submissions/<kind>")
def submissions_list(kind):
    form_kind = FORM_KINDS.get(kind)
    if form_kind is None:
        abort(404)
    page = db.paginate(
        kept_submissions().where(Submission.kind == kind).order_by(Submission.created_at.desc(), Submission.id.desc()),
        page=min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE),
        per_page=PER_PAGE,
        error_out=False,
    )
    moderated = {}
    if kind in MODERATED:
        model = MODERATED[kind]
        ids = [s.id for s in page.items]
        moderated = {
            item.submission_id: item
            for item in db.session.execute(db.select(model).where(model.submission_id.in_(ids))).scalars()
        }
    audit(staff_actor(), "view_submissions", kind=kind, submission_ids=[s.id for s in page.items])
    db.session.commit()
    return render_template(
        "staff/submissions.html",
        kind=form_kind,
        page=page,
        moderated=moderated,
        moderation_form=ModerationForm() if kind in MODERATED else None,
        survey=survey_summary() if kind == "survey" else None,
    )


@bp.post("/moderation/<what>/<int:item_id>")
def moderate(what, item_id):
    """Hide a board post or chat message from everyone, or show it again."""
    model = MODERATED.get(what)
    if model is None:
        abort(404)
    form = ModerationForm()
    if not form.validate_on_submit():
        abort(400)
    item = db.get_or_404(model, item_id)
    item.hidden = form.action.data == "hide"
    audit(staff_actor(), f"{form.action.data}_{what}", item_id=item.id, submission_id=item.submission_id)
    db.session.commit()
    flash(f"{'Hidden' if item.hidden else 'Shown again'}: {what} message {item.id}.", "success")
    return redirect(url_for("staff.submissions_list", kind=what, page=request.args.get("page", 1, type=int)), code=303)
