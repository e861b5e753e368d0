"""Staff accounts, sign-in and sign-out, the ``/admin`` gate and sign-in throttling.

Passwords are hashed with werkzeug; there is no default account. Signing in
clears the session (a new CSRF token too) and starts a server-side staff
session whose random token only the cookie holds.

Failed sign-ins are counted in the database, so every worker sees them,
under three keys: the account and client address together, the client
address alone, and the account alone. The first two lock out the guessing
address for a period that doubles with each further failure. The account
alone has a much higher ceiling; past it, sign-in to that account pauses,
but only for browsers that have never signed in to it: a browser that has
holds a signed ``staff_device`` cookie naming the account, and is throttled
on its own. So a stranger's wrong passwords, from however many addresses,
never lock staff out of their usual browser, and the guesses a stranger can
make per account stay bounded.
"""

import hashlib
import ipaddress
import re
import secrets
from datetime import timedelta

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from .. import cookies
from ..db import db
from ..fields import PlainText
from ..limits import configured, limiter
from ..models import SignInThrottle, StaffSession, StaffUser, utcnow
from ..responses import current_path, safe_next
from ..text import wait_text
from ..visits.identity import valid_ip

# The one staff blueprint: every staff module adds its views to it, behind
# the gate below, so no staff view can be registered without it.
bp = Blueprint("staff", __name__, url_prefix="/admin")

SESSION_KEY = "staff_token"
DEVICE_COOKIE = "staff_device"
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
    return found.staff  # None when the account is gone and only a stray row is left


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
def never_kept(response):
    """Staff pages hold personal data: no browser or proxy may keep a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


# --- Throttling -----------------------------------------------------------------------


def client_ip() -> str:
    return g.get("client_ip") or valid_ip(request.remote_addr) or "unknown"


def client_key() -> str:
    """The guessing client: its address, or for IPv6 its /64, which one host can fill at will."""
    address = client_ip()
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))


def account_key(name: str) -> str:
    return name.strip().lower()[:80]


def trusted_device(name: str) -> str | None:
    """The id of this browser's device cookie when it proves an earlier sign-in to account ``name``."""
    found = cookies.read(DEVICE_COOKIE)
    try:
        staff_id, device = found["staff"], found["device"]
    except (KeyError, TypeError):
        return None
    if not isinstance(device, str) or not isinstance(staff_id, int):
        return None
    user = db.session.get(StaffUser, staff_id)
    return device if user is not None and user.name == name.strip() else None


def throttle_limits(name: str, device: str | None) -> dict[str, tuple[int, str]]:
    """The throttle keys of this attempt, each with its limit and kind of lockout.

    A browser trusted for the account is counted on its own and passes the
    account-wide pause; every other client is counted per account and
    address, and towards the account's ceiling.
    """
    config = current_app.config
    account, client = account_key(name), client_key()
    limits = {f"ip:{client}": (config["STAFF_MAX_FAILURES_PER_IP"], "doubling")}
    if device is not None:
        limits[f"device:{device}"] = (config["STAFF_MAX_FAILURES_PER_CLIENT"], "doubling")
    else:
        limits[f"client:{account}|{client}"[:140]] = (config["STAFF_MAX_FAILURES_PER_CLIENT"], "doubling")
        limits[f"account:{account}"] = (config["STAFF_MAX_FAILURES_PER_ACCOUNT"], "pause")
    return limits


def seconds_locked(keys) -> int:
    """How long sign-in stays refused for any of ``keys`` (0 when it is open)."""
    now = utcnow()
    until = db.session.execute(
        db.select(db.func.max(SignInThrottle.locked_until)).where(
            SignInThrottle.key.in_(list(keys)), SignInThrottle.locked_until > now
        )
    ).scalar()
    return 0 if until is None else max(1, int((until - now).total_seconds() + 0.999))


def lockout_for(failures: int, limit: int, kind: str) -> timedelta | None:
    """How long a key with ``failures`` is locked: doubling per failure past the limit, or one fixed pause."""
    if failures < limit:
        return None
    config = current_app.config
    if kind == "pause":
        return timedelta(seconds=config["STAFF_ACCOUNT_PAUSE_SECONDS"])
    seconds = config["STAFF_LOCKOUT_SECONDS"] * 2 ** min(failures - limit, 20)
    return timedelta(seconds=min(seconds, config["STAFF_LOCKOUT_MAX_SECONDS"]))


def record_failure(key: str, limit: int, kind: str) -> None:
    now = utcnow()
    try:
        with db.session.begin_nested():
            db.session.add(SignInThrottle(key=key, failures=0, last_failure_at=now))
    except IntegrityError:  # another worker counted a failure for this key first
        pass
    row = db.session.execute(db.select(SignInThrottle).where(SignInThrottle.key == key).with_for_update()).scalar_one()
    forget_after = timedelta(seconds=current_app.config["STAFF_FAILURE_MEMORY_SECONDS"])
    locked = row.locked_until is not None and row.locked_until > now
    # A pause that has run out starts a fresh count: the ceiling holds per pause, not for ever.
    paused_out = kind == "pause" and row.locked_until is not None and not locked
    if paused_out or (not locked and now - row.last_failure_at > forget_after):
        row.failures = 0
        row.locked_until = None
    row.failures += 1
    row.last_failure_at = now
    lockout = lockout_for(row.failures, limit, kind)
    if lockout is not None:
        row.locked_until = now + lockout


def clear_failures(keys) -> None:
    db.session.execute(db.delete(SignInThrottle).where(SignInThrottle.key.in_(list(keys))))


# --- Sign-in and sign-out -------------------------------------------------------------


class SignInForm(FlaskForm):
    name = StringField("Staff name", validators=[InputRequired("Enter your staff name."), Length(max=80), PlainText()])
    password = PasswordField("Password", validators=[InputRequired("Enter your password."), Length(max=200)])


class SignOutForm(FlaskForm):
    """Only the CSRF token."""


def after_sign_in() -> str:
    """Where to go after signing in: the ``next`` path under /admin, never another site."""
    return safe_next(request.args.get("next"), fallback="staff.dashboard", under="/admin")


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


def device_cookie(user: StaffUser, device: str | None) -> dict:
    """The device cookie's payload for ``user``: the same device id when the browser had one."""
    return {"staff": user.id, "device": device or secrets.token_urlsafe(12)}


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(configured("RATELIMIT_SIGN_IN"), methods=["POST"])
def login():
    if g.staff is not None and request.method == "GET":
        return redirect(after_sign_in(), code=303)
    form = SignInForm()
    message, status = None, 200
    if form.validate_on_submit():
        device = trusted_device(form.name.data)
        limits = throttle_limits(form.name.data, device)
        locked = seconds_locked(limits)
        if locked:
            message, status = (
                f"Too many failed sign-ins. Sign-in is paused; try again in {wait_text(locked)}."
                " A browser you have signed in with before is not paused by others' failures.",
                429,
            )
        else:
            user = check_credentials(form.name.data.strip(), form.password.data)
            if user is None:
                for key, (limit, kind) in limits.items():
                    record_failure(key, limit, kind)
                db.session.commit()
                message, status = "That staff name and password do not match.", 401
            else:
                # The account-wide count stays: signing in must not give a guesser a fresh allowance.
                clear_failures(key for key in limits if not key.startswith("account:"))
                start_session(user)
                db.session.commit()
                response = redirect(after_sign_in(), code=303)
                cookies.write(response, DEVICE_COOKIE, device_cookie(user, device))
                return response
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


def clear_account_failures(name: str) -> None:
    """Forget the failed sign-ins counted against account ``name`` (its own and per address)."""
    account = account_key(name)
    db.session.execute(
        db.delete(SignInThrottle).where(
            db.or_(
                SignInThrottle.key == f"account:{account}",
                SignInThrottle.key.startswith(f"client:{account}|", autoescape=True),
            )
        )
    )
