"""Staff accounts, sign-in and sign-out, the ``/admin`` gate and sign-in throttling.

Passwords are hashed with werkzeug; there is no default account. Signing in
clears the session (a new CSRF token too) and starts a server-side staff
session whose random token only the cookie holds. Failed sign-ins are
counted per account name and per client IP in the database, so every
worker sees them; past the limit, sign-in is refused for a lockout period
that doubles with each further failure.
"""

import getpass
import hashlib
import os
import re
import secrets
from datetime import timedelta

import click
from flask import abort, current_app, g, redirect, render_template, request, session, url_for
from flask.cli import with_appcontext
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from ..consent import current_path
from ..db import db
from ..models import utcnow
from ..submissions import PlainText
from ..visits.client import valid_ip
from . import bp
from .models import SignInThrottle, StaffSession, StaffUser

SESSION_KEY = "staff_token"
PASSWORD_ENV = "WEBSHOP_STAFF_PASSWORD"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
# Endpoints of this blueprint that need no sign-in.
OPEN_ENDPOINTS = frozenset({"staff.login"})
# Compared against when the name is unknown, so both cases take as long.
_UNKNOWN_USER_HASH = generate_password_hash(secrets.token_hex(16))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def staff_actor() -> str:
    """The actor of audit lines and ledger entries for the signed-in staff member."""
    return f"staff:{g.staff.name}"


# --- The gate -------------------------------------------------------------------------


def load_staff() -> StaffUser | None:
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        return None
    found = db.session.get(StaffSession, token_hash(token))
    if found is None or found.expires_at <= utcnow():
        return None
    return found.staff


@bp.before_request
def require_staff():
    """Every ``/admin`` page needs a signed-in staff member; GETs are sent to sign in."""
    g.staff = load_staff()
    if g.staff is not None or request.endpoint in OPEN_ENDPOINTS:
        return None
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("staff.login", next=current_path()), code=303)
    abort(401)


@bp.after_request
def no_store(response):
    """Staff pages hold personal data: no browser or proxy may keep a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


# --- Throttling -----------------------------------------------------------------------


def client_ip() -> str:
    return g.get("client_ip") or valid_ip(request.remote_addr) or "unknown"


def throttle_limits(name: str) -> dict[str, int]:
    config = current_app.config
    return {
        f"account:{name.strip().lower()[:80]}": config["STAFF_MAX_FAILURES_PER_ACCOUNT"],
        f"ip:{client_ip()}": config["STAFF_MAX_FAILURES_PER_IP"],
    }


def seconds_locked(keys) -> int:
    """How long sign-in stays refused for any of ``keys`` (0 when it is open)."""
    now = utcnow()
    until = db.session.execute(
        db.select(db.func.max(SignInThrottle.locked_until)).where(
            SignInThrottle.key.in_(list(keys)), SignInThrottle.locked_until > now
        )
    ).scalar()
    return 0 if until is None else max(1, int((until - now).total_seconds() + 0.999))


def lockout_for(failures: int, limit: int) -> timedelta | None:
    if failures < limit:
        return None
    config = current_app.config
    seconds = config["STAFF_LOCKOUT_SECONDS"] * 2 ** min(failures - limit, 20)
    return timedelta(seconds=min(seconds, config["STAFF_LOCKOUT_MAX_SECONDS"]))


def record_failure(key: str, limit: int) -> None:
    now = utcnow()
    try:
        with db.session.begin_nested():
            db.session.add(SignInThrottle(key=key, failures=0, last_failure_at=now))
    except IntegrityError:  # another worker counted a failure for this key first
        pass
    row = db.session.execute(db.select(SignInThrottle).where(SignInThrottle.key == key).with_for_update()).scalar_one()
    forget_after = timedelta(seconds=current_app.config["STAFF_FAILURE_MEMORY_SECONDS"])
    locked = row.locked_until is not None and row.locked_until > now
    if not locked and now - row.last_failure_at > forget_after:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    lockout = lockout_for(row.failures, limit)
    if lockout is not None:
        row.locked_until = now + lockout


def clear_failures(keys) -> None:
    db.session.execute(db.delete(SignInThrottle).where(SignInThrottle.key.in_(list(keys))))


def wait_text(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{(seconds + 59) // 60} minutes"


# --- Sign-in and sign-out -------------------------------------------------------------


class SignInForm(FlaskForm):
    name = StringField("Staff name", validators=[InputRequired("Enter your staff name."), Length(max=80), PlainText()])
    password = PasswordField("Password", validators=[InputRequired("Enter your password."), Length(max=200)])


class SignOutForm(FlaskForm):
    """Only the CSRF token."""


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path under /admin, never another site."""
    if target and target.startswith("/admin") and "//" not in target and "\\" not in target:
        return target
    return url_for("staff.dashboard")


def check_credentials(name: str, password: str) -> StaffUser | None:
    user = db.session.execute(db.select(StaffUser).where(StaffUser.name == name)).scalar_one_or_none()
    if user is None:
        check_password_hash(_UNKNOWN_USER_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def start_session(user: StaffUser) -> None:
    """A fresh session for ``user``: whatever the old one held is dropped."""
    now = utcnow()
    db.session.execute(db.delete(StaffSession).where(StaffSession.staff_id == user.id, StaffSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    hours = current_app.config["STAFF_SESSION_HOURS"]
    db.session.add(
        StaffSession(token_hash=token_hash(token), staff_id=user.id, expires_at=now + timedelta(hours=hours))
    )
    user.last_sign_in_at = now
    session.clear()
    session[SESSION_KEY] = token


@bp.route("/login", methods=["GET", "POST"])
def login():
    if g.staff is not None and request.method == "GET":
        return redirect(safe_next(request.args.get("next")), code=303)
    form = SignInForm()
    message, status = None, 200
    if form.validate_on_submit():
        limits = throttle_limits(form.name.data)
        locked = seconds_locked(limits)
        if locked:
            message, status = (
                f"Too many failed sign-ins. Sign-in is paused; try again in {wait_text(locked)}.",
                429,
            )
        else:
            user = check_credentials(form.name.data.strip(), form.password.data)
            if user is None:
                for key, limit in limits.items():
                    record_failure(key, limit)
                db.session.commit()
                message, status = "That staff name and password do not match.", 401
            else:
                clear_failures(limits)
                start_session(user)
                db.session.commit()
                return redirect(safe_next(request.args.get("next")), code=303)
    return render_template("staff/login.html", form=form, message=message), status


@bp.post("/logout")
def logout():
    if SignOutForm().validate_on_submit():
        token = session.get(SESSION_KEY)
        if isinstance(token, str):
            db.session.execute(db.delete(StaffSession).where(StaffSession.token_hash == token_hash(token)))
            db.session.commit()
        session.clear()
        return redirect(url_for("staff.login"), code=303)
    abort(400)


@bp.context_processor
def staff_in_templates():
    return {"staff": g.get("staff"), "sign_out_form": SignOutForm}


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


@staff_group.command("create")
@click.argument("name")
@with_appcontext
def create_command(name):
    """Create staff account NAME. The password is asked for, or read from WEBSHOP_STAFF_PASSWORD."""
    if not NAME_RE.match(name):
        raise click.BadParameter("use up to 80 letters, digits, '.', '_' or '-'", param_hint="NAME")
    if db.session.execute(db.select(StaffUser.id).where(StaffUser.name == name)).first():
        raise click.ClickException(f"A staff account named {name!r} already exists.")
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password)
    if problem:
        raise click.ClickException(problem)
    db.session.add(StaffUser(name=name, password_hash=generate_password_hash(password)))
    db.session.commit()
    click.echo(f"Staff account {name!r} created; sign in at /admin/login.")


def cli_actor() -> str:
    """The actor of a command-line action: the operating-system user who ran it."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
