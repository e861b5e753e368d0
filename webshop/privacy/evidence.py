"""Live evidence for the policy page and the tour: what each clause did for this visitor.

Everything here is read from the request and the real tables at the time of
asking; nothing is canned. The page stays cheap: each helper is one small
query (or a handful, for this browser's own submissions), on indexed
columns or small tables, and none runs per row. Figures over every
submission come from the per-form tallies (``submission_tally``, equal to
a count of the rows at every commit) or, for "shareable now", from the
index of the submissions that only their address could still keep from
sharing.
"""

from dataclasses import asdict, dataclass, field
from datetime import datetime, time

from flask import current_app, g, request, url_for
from sqlalchemy import func, or_, select

from .. import visits
from ..db import db
from ..ledger import ledger_for
from ..links import current_grant
from ..models import LedgerEntry, Notice, NoticeDelivery, Recipient, Submission, Visit, utcnow
from ..policy_text import POLICY_VERSION
from ..popular import popular_now
from ..rules import MARKETING, SHARING, Rule, notice_audience, shareable_submissions
from ..shorten import mask_email
from ..stats import OptOuts, count_if, held_with_address, opt_outs_held
from ..submissions import FORM_KINDS
from ..visits.identity import current_identity
from . import cookie_page

RECENT_VISITS = 5
BROWSER_SUBMISSIONS = 20


# --- This request ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ThisRequest:
    """What this request carried and what its visit row gets."""

    gpc: bool
    dnt: bool
    blocking: bool
    ip: str | None  # as stored with the visit row of this request
    domain: str | None
    domain_confirmed: bool
    visitor_id: str | None
    rdns_enabled: bool
    lookup_pending: bool
    sent_visitor_cookie: bool  # the browser sent one, whether or not it is used


def this_request() -> ThisRequest:
    """This request as :func:`current_identity` sees it: the values its visit row stores."""
    client = current_identity()
    resolver = current_app.extensions.get("webshop.resolver")
    return ThisRequest(
        gpc=bool(g.get("gpc")),
        dnt=bool(g.get("dnt")),
        blocking=bool(g.get("blocking_signal")),
        ip=client.ip,
        domain=client.domain,
        domain_confirmed=client.domain_confirmed,
        visitor_id=client.visitor_id,
        rdns_enabled=resolver is not None,
        lookup_pending=bool(resolver and client.ip and resolver.pending(client.ip)),
        sent_visitor_cookie="visitor" in request.cookies,
    )


def recent_visits(visitor_id: str | None, limit: int = RECENT_VISITS) -> tuple[int, list[Visit]]:
    """How many visits carry ``visitor_id``, and the latest ``limit`` of them."""
    if not visitor_id:
        return 0, []
    visits.flush(current_app)  # so the pages just seen are listed
    total = db.session.execute(select(func.count()).where(Visit.visitor_id == visitor_id)).scalar_one()
    if not limit:
        return total, []
    latest = (
        db.session.execute(
            select(Visit)
            .where(Visit.visitor_id == visitor_id)
            .order_by(Visit.time.desc(), Visit.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    return total, list(latest)


# --- This browser's submissions ----------------------------------------------------------------


@dataclass
class Verdict:
    """Whether a submission would go into a marketing export made now, and why not.

    ``shareable`` and ``marketable`` are None when nothing about the
    submission itself excludes it and only its address's state would decide
    (its newsletter subscription, its "your data" preferences), while this
    browser has not proved the address: that state is not shown to it.
    """

    shareable: bool | None
    marketable: bool | None
    share_reasons: list[str] = field(default_factory=list)
    marketing_reasons: list[str] = field(default_factory=list)


def browser_submissions(visitor_id: str | None, limit: int = BROWSER_SUBMISSIONS) -> list[Submission]:
    """This browser's submissions, linked through its visitor id, newest first."""
    if not visitor_id:
        return []
    return list(
        db.session.execute(
            select(Submission)
            .where(Submission.visitor_id == visitor_id, Submission.erased_at.is_(None))
            .order_by(Submission.created_at.desc(), Submission.id.desc())
            .limit(limit)
        ).scalars()
    )


def judge(holding: list[Rule], address_shown: bool) -> tuple[bool | None, list[str]]:
    """Allowed or not, and the reasons in words; rules about the address count only where it is shown."""
    if address_shown:
        return not holding, [rule.reason for rule in holding]
    own = [rule.reason for rule in holding if not rule.about_address]
    return (False, own) if own else (None, [])


def verdicts(submissions: list[Submission]) -> dict[int, Verdict]:
    """For each submission, the live answer of the sharing rules and the rules that hold.

    Both come from the very rules the export and the notices use
    (:data:`webshop.rules.SHARING` and :data:`webshop.rules.MARKETING`),
    evaluated in one query per use. What they say about an address is shown
    only to a browser that has "your data" open for it (:func:`judge`).
    """
    if not submissions:
        return {}
    ids = [s.id for s in submissions]
    sharing = SHARING.holding(ids)
    marketing = MARKETING.holding(ids)
    grant = current_grant()
    found = {}
    for s in submissions:
        address_shown = grant is not None and s.email is not None and s.email == grant.email
        shareable, share_reasons = judge(sharing.get(s.id, []), address_shown)
        marketable, marketing_reasons = judge(marketing.get(s.id, []), address_shown)
        found[s.id] = Verdict(shareable, marketable, share_reasons, marketing_reasons)
    return found


@dataclass
class BrowserRecord:
    submission: Submission
    label: str
    email: str | None  # masked
    verdict: Verdict
    ledger: list[LedgerEntry]


def browser_records(visitor_id: str | None) -> list[BrowserRecord]:
    """This browser's submissions with their sharing verdicts and ledger entries."""
    submissions = browser_submissions(visitor_id)
    if not submissions:
        return []
    found = verdicts(submissions)
    ledger = ledger_for(s.id for s in submissions)
    recipient_ids = {e.recipient_id for entries in ledger.values() for e in entries}
    if recipient_ids:  # one query; each entry's recipient is then found in the session
        db.session.execute(select(Recipient).where(Recipient.id.in_(recipient_ids))).scalars().all()
    return [
        BrowserRecord(
            submission=s,
            label=FORM_KINDS[s.kind].service if s.kind in FORM_KINDS else s.kind,
            email=mask_email(s.email) if s.email else None,
            verdict=found[s.id],
            ledger=ledger[s.id],
        )
        for s in submissions
    ]


# --- The forms -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FormCount(OptOuts):
    label: str
    url: str


def form_counts() -> list[FormCount]:
    """Per form: submissions held (not erased), and how many ticked each opt-out box."""
    found = opt_outs_held()
    return [
        FormCount(**asdict(found.get(kind, OptOuts(kind))), label=form.service, url=url_for(form.endpoint))
        for kind, form in FORM_KINDS.items()
    ]


# --- Uses ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    visits_today: int
    blocking_today: int
    blocking_with_identifiers_today: int  # must stay 0
    popular: list
    notices: int
    deliveries: int
    audience: int


def usage() -> Usage:
    """Today's visit counts, the popular shelf as it stands, and site-update notices."""
    since = datetime.combine(utcnow().date(), time.min)
    identifying = or_(Visit.ip.is_not(None), Visit.domain.is_not(None), Visit.visitor_id.is_not(None))
    total, blocking, leaking = db.session.execute(
        select(
            func.count(),
            count_if(Visit.blocking_signal.is_(True)),
            count_if(Visit.blocking_signal.is_(True) & identifying),
        ).where(Visit.time >= since)
    ).one()
    audience = notice_audience().subquery()
    notices, deliveries, reach = db.session.execute(
        select(
            select(func.count()).select_from(Notice).scalar_subquery(),
            select(func.count()).select_from(NoticeDelivery).scalar_subquery(),
            select(func.count()).select_from(audience).scalar_subquery(),
        )
    ).one()
    return Usage(total, blocking, leaking, popular_now(), notices, deliveries, reach)


# --- Sharing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SharingSummary:
    entries: int
    records: int
    shareable_now: int
    recipients: list[tuple[str, str, int]]  # name, kind, exports
    rule: tuple[Rule, ...]  # the default-deny rules the export applies, as written in webshop.rules


def sharing_summary() -> SharingSummary:
    """The ledger in numbers, the recipients, and how many records an export made now would hold."""
    entries, records, now = db.session.execute(
        select(
            select(func.count()).select_from(LedgerEntry).scalar_subquery(),
            select(func.coalesce(func.sum(LedgerEntry.record_count), 0)).scalar_subquery(),
            # The export's query counted in place: a count over it as a subquery would read every
            # submission instead of ix_submission_share_candidates.
            shareable_submissions().with_only_columns(func.count()).order_by(None).scalar_subquery(),
        )
    ).one()
    recipients = db.session.execute(
        select(Recipient.name, Recipient.kind, func.count(LedgerEntry.id))
        .outerjoin(LedgerEntry, LedgerEntry.recipient_id == Recipient.id)
        .group_by(Recipient.id, Recipient.name, Recipient.kind)
        .order_by(Recipient.name)
    ).all()
    return SharingSummary(entries, records, now, [tuple(r) for r in recipients], SHARING.rules)


# --- Other sources -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OtherSources:
    with_address: int  # submissions held that carry an email address
    granted_email: str | None  # masked; only when this browser opened "your data"
    granted_kinds: list[tuple[str, int]]


def other_sources() -> OtherSources:
    """How many submissions carry an address; this address's records by form, once opened.

    The public figure counts submissions, not addresses: any submission with
    an address moves it by exactly one, whether the address was known before
    or not, so it cannot be used to test an address. (A count of distinct
    addresses, or of addresses with records from several forms, would stay
    put for a known address and move for a new one, however it was rounded
    near a bucket's edge.) Records under an address are shown only to a
    browser that opened "your data" through the mailed link, never for an
    address merely typed into a form here.
    """
    with_address = held_with_address()
    grant = current_grant()
    kinds = []
    if grant is not None:
        rows = db.session.execute(
            select(Submission.kind, func.count())
            .where(Submission.email == grant.email, Submission.erased_at.is_(None))
            .group_by(Submission.kind)
        ).all()
        kinds = [(FORM_KINDS[k].service if k in FORM_KINDS else k, n) for k, n in rows]
    return OtherSources(with_address, mask_email(grant.email) if grant else None, kinds)


# --- Consent -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentState:
    acknowledged_version: str | None
    current_version: str
    banner_shown: bool


def consent_state() -> ConsentState:
    """The policy version this browser acknowledged, against the current one."""
    version = g.get("consent_version")
    return ConsentState(version, POLICY_VERSION, version != POLICY_VERSION)


# --- Everything for the policy page ----------------------------------------------------------------


@dataclass
class Evidence:
    request: ThisRequest
    visit_total: int
    visits: list[Visit]
    records: list[BrowserRecord]
    forms: list[FormCount]
    cookies: list[cookie_page.CookieReport]
    usage: Usage
    sharing: SharingSummary
    other_sources: OtherSources
    consent: ConsentState

    @property
    def submissions_total(self) -> int:
        return sum(f.count for f in self.forms)


def gather() -> Evidence:
    """Every panel's evidence for the current visitor."""
    current = this_request()
    total, latest = recent_visits(current.visitor_id)
    return Evidence(
        request=current,
        visit_total=total,
        visits=latest,
        records=browser_records(current.visitor_id),
        forms=form_counts(),
        cookies=cookie_page.cookie_reports(),
        usage=usage(),
        sharing=sharing_summary(),
        other_sources=other_sources(),
        consent=consent_state(),
    )
