"""The bulletin board: posts shown to everyone, newest first; the poster's email never is."""

from flask import Blueprint, render_template, request

from .db import db
from .fields import NotReservedName, email_field, text_field
from .models import BoardPost
from .submissions import (
    FormKind,
    PersonalDataForm,
    commit_mail_and_redirect,
    form_post_limit,
    record_submission,
    register_form,
)

bp = Blueprint("board", __name__)

POSTS_PER_PAGE = 20
MAX_PAGE = 10_000

KIND = register_form(
    FormKind(
        kind="board",
        service="Bulletin board",
        endpoint="board.board",
        clause="where-submitted",
        primary_purpose="Showing your post and display name to everyone who visits the board",
        pii_categories=("Display name", "Email address (never shown)", "Your post"),
        termination="Until you or our staff remove it, or you erase it on the your-data page",
        thanks_title="Your post is on the board",
        thanks_text=(
            "Everyone who visits the board can now read your post under your display name. "
            "Your email address is not shown."
        ),
    )
)


class BoardForm(PersonalDataForm):
    display_name = text_field(
        "Display name (shown with your post)",
        max_length=40,
        required="Choose a display name.",
        validators=[NotReservedName()],
    )
    email = email_field("Email (never shown)")
    message = text_field("Message", max_length=2000, required="Write your message.", multiline=True)


@bp.route("/board", methods=["GET", "POST"])
@form_post_limit
def board():
    form = BoardForm()
    if form.validate_on_submit():
        submission = record_submission(
            "board",
            form,
            email=form.email.data,
            name=form.display_name.data,
            fields={"display_name": form.display_name.data, "message": form.message.data},
        )
        db.session.add(BoardPost(submission=submission, display_name=form.display_name.data, body=form.message.data))
        return commit_mail_and_redirect(submission)
    page = db.paginate(
        db.select(BoardPost)
        .where(BoardPost.hidden.is_(False))
        .order_by(BoardPost.created_at.desc(), BoardPost.id.desc()),
        page=min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE),
        per_page=POSTS_PER_PAGE,
        error_out=False,
    )
    return render_template("board/board.html", form=form, page=page, kind=KIND)


def init_app(app):
    app.register_blueprint(bp)
