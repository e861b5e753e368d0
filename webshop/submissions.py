"""The one mechanism every personal-information form uses.

A form inherits :class:`PersonalDataForm` (which carries the two opt-out
boxes, unticked by default) and its view calls :func:`record_submission`.
That stores what was entered, the choices made on this submission alone,
and the context of the request that carried it: IP, domain, visitor id,
whether a blocking signal was present (which forces "don't share"), the
policy version shown and the time.
"""

from flask import g
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms.validators import ValidationError

from .db import db
from .models import Submission
from .privacy.policy import POLICY_VERSION
from .visits.client import current_client

NO_MARKETING_LABEL = "Don't use this for marketing"
NO_SHARE_LABEL = "Don't share this with other organisations"


class PersonalDataForm(FlaskForm):
    no_marketing = BooleanField(NO_MARKETING_LABEL, default=False)
    no_share = BooleanField(NO_SHARE_LABEL, default=False)


def normalized_email(value: str) -> str:
    """The address as email-validator normalises it (lower-cased domain)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ValidationError(str(error)) from error


def record_submission(
    kind: str,
    form: PersonalDataForm,
    *,
    email: str | None,
    name: str | None,
    fields: dict,
) -> Submission:
    """Add a submission for ``form`` to the session (the caller commits)."""
    client = current_client()
    blocking = bool(g.get("blocking_signal"))
    submission = Submission(
        kind=kind,
        email=email,
        name=name,
        fields=fields,
        no_marketing=bool(form.no_marketing.data),
        no_share=bool(form.no_share.data) or blocking,
        blocking_signal=blocking,
        ip=client.ip,
        domain=client.domain,
        domain_confirmed=client.domain_confirmed,
        visitor_id=client.visitor_id,
        policy_version=POLICY_VERSION,
    )
    db.session.add(submission)
    return submission
