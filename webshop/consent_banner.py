"""The consent banner's markup, rendered once per app, policy version and script root.

Every new visitor gets the same banner but for two values: the CSRF token
of its form and the path to come back to. So it is rendered once, with a
placeholder for each, and every request puts its own two in, escaped as the
template would have escaped them. The key holds everything else the markup
depends on: the policy version, and the script root its links start with.
A visitor who chose for an earlier version also sees what changed since
then: that banner is rendered whole, as is every banner while templates
reload (debug), so an edited template shows at once.
"""

from flask import current_app, render_template, request
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from .responses import current_path

TEMPLATE = "consent/banner.html"
TOKEN_SLOT, PATH_SLOT = "\x00csrf-token\x00", "\x00next-path\x00"  # never in a token or an escaped path


def consent_banner(version: str, changes) -> Markup:
    """The banner for this request; ``changes`` are the policy's changes since the visitor's last choice."""
    if changes or current_app.jinja_env.auto_reload:
        return Markup(
            render_template(TEMPLATE, csrf_value=generate_csrf(), next_path=current_path(), policy_changes=changes)
        )
    rendered = current_app.extensions.setdefault("webshop.consent_banner", {})
    key = (version, request.script_root)
    parts = rendered.get(key)
    if parts is None:
        markup = render_template(TEMPLATE, csrf_value=TOKEN_SLOT, next_path=PATH_SLOT, policy_changes=())
        before, _, rest = markup.partition(TOKEN_SLOT)
        middle, _, after = rest.partition(PATH_SLOT)
        parts = rendered[key] = (before, middle, after)
    before, middle, after = parts
    return Markup(f"{before}{escape(generate_csrf())}{middle}{escape(current_path())}{after}")
