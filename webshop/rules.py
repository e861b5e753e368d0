"""Sharing and marketing, default-deny: every rule written once (docs/privacy-practices.md, "sharing").

A submission reaches a marketing export only if none of these hold: its
"don't share" box was ticked, a blocking signal came with it (a decline on
the banner counts as one), its browser withdrew consent later, it was erased,
it has no address, whoever sent it did not prove the address is theirs, it
is a newsletter signup whose address is not (or no longer) confirmed, or
the person turned sharing off for their address on "your data". Marketing
mail follows the same rules with the "don't use for marketing" box and the
marketing preference; a withdrawal stops sharing, while the newsletter's
mail follows the newsletter's own preferences.

Each rule is one :class:`Rule`: its SQL condition and its reason in words.
A :class:`Use` lists the rules that keep a submission from it. The export,
the marketing audience, the notice audience, "your data" and the policy
page's verdicts all read these objects; none of them restates a rule.

Proof is per submission (``Submission.proven_at``, set by
:mod:`webshop.proof`): an address confirmed somewhere proves nothing about
a later submission of it by someone else.
"""

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Index, Text, and_, case, cast, exists, not_, select

from .db import db
from .models import EmailPreference, Submission, Subscription


@dataclass(frozen=True)
class Rule:
    """One default-deny rule: the SQL condition under which it keeps a submission out, and why, in words.

    ``about_address`` rules depend on the address's state (its subscription,
    its preferences), not only on the submission: what they say is shown
    only to a browser that proved the address.
    """

    key: str  # a short label, the same for the like rule of each use
    condition: ColumnElement[bool]
    reason: str
    about_address: bool = False


def _preference_off(column) -> ColumnElement[bool]:
    """True when the submission's address has turned this use off going forward."""
    return exists().where(EmailPreference.email == Submission.email, column.is_(True))


DONT_SHARE_TICKED = Rule(
    "box",
    # A blocking signal forces the box; it is then named as the signal, not twice.
    and_(Submission.no_share.is_(True), not_(Submission.blocking_signal.is_(True))),
    '"don\'t share" was ticked on it',
)
DONT_MARKET_TICKED = Rule(
    "box",
    Submission.no_marketing.is_(True),
    '"don\'t use for marketing" was ticked on it',
)
BLOCKING_SIGNAL = Rule(
    "blocking",
    Submission.blocking_signal.is_(True),
    "it came with a blocking signal (Global Privacy Control or Do Not Track, or consent declined on the banner)",
)
WITHDRAWN = Rule(
    "withdrawn",
    Submission.withdrawn_at.is_not(None),
    "the browser that sent it withdrew its consent afterwards (it declined, or sent a blocking signal, "
    "while it still held its visitor id)",
)
ERASED = Rule("erased", Submission.erased_at.is_not(None), "it was erased")
NO_EMAIL = Rule(
    "no-email", Submission.email.is_(None), "it carries no email address, so there is nothing to put on a list"
)
UNPROVEN = Rule(
    "unproven",
    Submission.proven_at.is_(None),
    "whoever sent it has not proven the address is theirs: a newsletter signup counts once the "
    'link mailed for it is followed, any other form only if the browser that sent it opened "your '
    'data" for that address, before or after sending it',
)
NOT_SUBSCRIBED = Rule(
    "not-subscribed",
    and_(
        Submission.kind == "newsletter",
        not_(exists().where(Subscription.email == Submission.email, Subscription.status == Subscription.CONFIRMED)),
    ),
    "its newsletter address is not confirmed (or was unsubscribed)",
    about_address=True,
)
SHARING_OFF = Rule(
    "preference",
    _preference_off(EmailPreference.sharing_off),
    'its address turned sharing off on "your data"',
    about_address=True,
)
MARKETING_OFF = Rule(
    "preference",
    _preference_off(EmailPreference.marketing_off),
    'its address turned marketing off on "your data"',
    about_address=True,
)


@dataclass(frozen=True)
class Use:
    """A use beyond the form itself, and every rule that keeps a submission from it."""

    name: str
    rules: tuple[Rule, ...]

    def allowed(self) -> ColumnElement[bool]:
        """True for a submission that no rule keeps from this use.

        Written as one negated condition per rule, joined by AND: a database matches each term
        on its own against a partial index (see :data:`SHARE_CANDIDATES`).
        """
        return and_(*(not_(rule.condition) for rule in self.rules))

    def allowed_on_its_own(self) -> ColumnElement[bool]:
        """True for a submission that no rule about the submission itself (not its address) keeps from this use."""
        return and_(*(not_(rule.condition) for rule in self.rules if not rule.about_address))

    def holding(self, ids) -> dict[int, list[Rule]]:
        """For each of ``ids``, the rules that hold for it now (none: it is allowed).

        One query, a CASE per rule: the very conditions the export and the notices use.
        """
        ids = list(ids)
        if not ids:
            return {}
        rows = db.session.execute(
            select(Submission.id, *(case((rule.condition, 1), else_=0) for rule in self.rules)).where(
                Submission.id.in_(ids)
            )
        ).all()
        return {row[0]: [rule for rule, hit in zip(self.rules, row[1:], strict=True) if hit] for row in rows}


SHARING = Use(
    "sharing",
    (DONT_SHARE_TICKED, BLOCKING_SIGNAL, WITHDRAWN, ERASED, NO_EMAIL, UNPROVEN, NOT_SUBSCRIBED, SHARING_OFF),
)
MARKETING = Use(
    "marketing", (DONT_MARKET_TICKED, BLOCKING_SIGNAL, ERASED, NO_EMAIL, UNPROVEN, NOT_SUBSCRIBED, MARKETING_OFF)
)

# The submissions that only their address's state could still keep from sharing, by address: counting
# the shareable ones ("shareable now" on the policy page) reads this index alone and looks up only these
# addresses' subscriptions and preferences, never every submission. It holds the columns of the rules
# about the submission too, so that SQLite answers from it without reading the table.
SHARE_CANDIDATES = Index(
    "ix_submission_share_candidates",
    Submission.email,
    Submission.kind,
    Submission.no_share,
    Submission.blocking_signal,
    Submission.withdrawn_at,
    Submission.erased_at,
    Submission.proven_at,
    sqlite_where=SHARING.allowed_on_its_own(),
    postgresql_where=SHARING.allowed_on_its_own(),
)


def shareable_submissions():
    """A query of every submission that may go into a marketing export."""
    return select(Submission).where(SHARING.allowed()).order_by(Submission.id)


def marketable_submissions():
    """A query of every submission that may be used for the store's own marketing."""
    return select(Submission).where(MARKETING.allowed()).order_by(Submission.id)


SITE_UPDATES = "site-updates"  # the newsletter topic site-update notices go to


def chose_topic(topic: str) -> ColumnElement[bool]:
    """True for a subscription whose ``topics`` (a JSON list) holds ``topic``.

    The JSON text is matched with the quoted value: both SQLite and
    PostgreSQL hold the list as the text ``json.dumps`` wrote, and topics
    come from a fixed list of plain words, so ``"offers"`` can only match
    the element ``offers``, never part of another.
    """
    return cast(Subscription.topics, Text).like(f'%"{topic}"%')


def mail_audience(topic: str):
    """Subscriptions that may receive mail on ``topic``, by address.

    Confirmed, not paused, ``topic`` among their chosen topics, and the
    signup that confirmed the subscription allows marketing mail: its
    "don't use for marketing" box, its blocking signal, and the address's
    marketing preference on "your data".
    """
    allowed = marketable_submissions().where(Submission.kind == "newsletter").subquery()
    return (
        select(Subscription)
        .join(allowed, allowed.c.id == Subscription.submission_id)
        .where(
            Subscription.status == Subscription.CONFIRMED,
            Subscription.paused_at.is_(None),
            chose_topic(topic),
        )
        .order_by(Subscription.email)
    )


def notice_audience():
    """Who gets a site-update notice: :func:`mail_audience` of the "site-updates" topic."""
    return mail_audience(SITE_UPDATES)
