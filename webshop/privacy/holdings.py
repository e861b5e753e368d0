"""Everything the store holds under one email address: gather it, correct it, export it, erase it.

"Under an address" means the submissions that carry it, and what hangs off
them: orders, product registrations, board posts, chat messages, the
newsletter subscription, the address's preferences going forward, the
sharing-ledger entries that included them, and the visits linked through
the visitor ids of those whose sender proved the address.

Every change writes an audit line holding ids and counts, never the
address or anything else personal.
"""

import logging
from dataclasses import dataclass, field
from email.utils import getaddresses

from flask import current_app
from sqlalchemy import delete, func, or_, select, text, update

from .. import mail, newsletter
from ..db import db, utc_text
from ..ledger import ledger_for
from ..models import (
    AccessLink,
    BoardPost,
    ChatMessage,
    ConsentDecision,
    EmailPreference,
    LedgerEntry,
    Order,
    ProductRegistration,
    Submission,
    Subscription,
    Visit,
    audit,
    new_unsubscribe_token,
    utcnow,
)
from ..rules import marketable_submissions, shareable_submissions
from ..stats import lock_tallies
from ..submissions import FORM_KINDS, FormKind, receipt_data
from ..visits import flush as flush_visits
from ..visits.daily import recounted
from ..visits.retired import registry as retired_visitors
from ..visits.retired import retire, scrub_spools, spool_lock

log = logging.getLogger(__name__)

DELETED_BY_AUTHOR = "Deleted by its author."
DELETED_NAME = "(deleted)"
RECENT_VISITS = 10


@dataclass
class Record:
    """One submission and the rows that hang off it."""

    submission: Submission
    kind: FormKind | None
    ledger: list[LedgerEntry]
    shareable: bool = False  # would go into a marketing export made now
    marketable: bool = False  # may be used for the store's own marketing now
    order: Order | None = None
    registration: ProductRegistration | None = None
    post: BoardPost | None = None
    message: ChatMessage | None = None

    @property
    def proven(self) -> bool:
        """Whether whoever sent it proved the address; if not, what came with it is someone else's."""
        return self.submission.proven_at is not None


@dataclass
class VisitTrail:
    """The visits linked through one visitor id: how many, and the latest few."""

    visitor_id: str
    total: int
    recent: list[Visit]


@dataclass
class Holdings:
    email: str
    records: list[Record]
    subscription: Subscription | None
    preference: EmailPreference | None
    trails: dict[str, VisitTrail] = field(default_factory=dict)

    @property
    def submission_ids(self) -> list[int]:
        return [record.submission.id for record in self.records]

    @property
    def has_orders(self) -> bool:
        return any(record.order for record in self.records)

    @property
    def shared_count(self) -> int:
        return sum(1 for record in self.records if record.ledger)


def _submissions_under(email: str):
    return select(Submission).where(Submission.email == email, Submission.erased_at.is_(None))


def _by_submission(model, ids: list[int]) -> dict:
    if not ids:
        return {}
    rows = db.session.execute(select(model).where(model.submission_id.in_(ids))).scalars()
    return {row.submission_id: row for row in rows}


def visits_of(visitor_id: str, *, page: int = 1, per_page: int = 20):
    """A page of the visits linked through ``visitor_id``, newest first."""
    return db.paginate(
        select(Visit).where(Visit.visitor_id == visitor_id).order_by(Visit.time.desc(), Visit.id.desc()),
        page=page,
        per_page=per_page,
        error_out=False,
        max_per_page=100,
    )


def trails_for(visitor_ids) -> dict[str, VisitTrail]:
    visitor_ids = sorted(set(visitor_ids))
    if not visitor_ids:
        return {}
    flush_visits(current_app)  # visits spooled a moment ago belong in the answer
    counts = dict(
        db.session.execute(
            select(Visit.visitor_id, func.count()).where(Visit.visitor_id.in_(visitor_ids)).group_by(Visit.visitor_id)
        ).all()
    )
    return {
        visitor_id: VisitTrail(
            visitor_id,
            counts.get(visitor_id, 0),
            visits_of(visitor_id, per_page=RECENT_VISITS).items,
        )
        for visitor_id in visitor_ids
    }


def _ids_in(query, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    return {s.id for s in db.session.execute(query.where(Submission.id.in_(ids))).scalars()}


def everything_under(email: str) -> Holdings:
    """Everything held under ``email`` that has not been erased.

    Every submission carrying the address is listed, but the visits (and,
    in the download, the request context) of one whose sender did not prove
    the address are left out: they belong to whoever typed it.
    """
    submissions = (
        db.session.execute(_submissions_under(email).order_by(Submission.created_at, Submission.id)).scalars().all()
    )
    ids = [s.id for s in submissions]
    orders = _by_submission(Order, ids)
    registrations = _by_submission(ProductRegistration, ids)
    posts = _by_submission(BoardPost, ids)
    messages = _by_submission(ChatMessage, ids)
    ledger = ledger_for(ids)
    shareable = _ids_in(shareable_submissions(), ids)
    marketable = _ids_in(marketable_submissions(), ids)
    records = [
        Record(
            submission=s,
            kind=FORM_KINDS.get(s.kind),
            ledger=ledger[s.id],
            shareable=s.id in shareable,
            marketable=s.id in marketable,
            order=orders.get(s.id),
            registration=registrations.get(s.id),
            post=posts.get(s.id),
            message=messages.get(s.id),
        )
        for s in submissions
    ]
    subscription = db.session.execute(select(Subscription).where(Subscription.email == email)).scalar_one_or_none()
    return Holdings(
        email=email,
        records=records,
        subscription=subscription,
        preference=db.session.get(EmailPreference, email),
        # Visits join the address only through submissions whose sender proved
        # it: anyone can type an address into a form, and their browser's
        # visits are theirs, not the address owner's.
        trails=trails_for(s.visitor_id for s in submissions if s.visitor_id and s.proven_at is not None),
    )


# --- Preferences going forward ---------------------------------------------------------------


def set_preferences(email: str, *, marketing_off: bool, sharing_off: bool) -> EmailPreference:
    """Record the address's choices for all its records from now on (the caller commits)."""
    preference = db.session.get(EmailPreference, email)
    if preference is None:
        preference = EmailPreference(email=email)
        db.session.add(preference)
    preference.marketing_off = marketing_off
    preference.sharing_off = sharing_off
    audit("visitor", "my-data.preferences", marketing_off=marketing_off, sharing_off=sharing_off)
    return preference


def unsubscribe(email: str) -> bool:
    """End the address's newsletter subscription; False if there was none to end."""
    subscription = db.session.execute(select(Subscription).where(Subscription.email == email)).scalar_one_or_none()
    if subscription is None or not newsletter.end_subscription(subscription):
        return False
    audit("visitor", "my-data.unsubscribed", subscription=subscription.id)
    return True


# --- Correction --------------------------------------------------------------------------------


def correct(holdings: Holdings, *, name: str | None, address: str | None) -> dict:
    """Put the corrected name and postal address on every record that holds one.

    The name is corrected where a form asked for the person's name; display
    names chosen for the board and chat stay as they were posted. The
    postal address lives on orders, and the corrected one is where the
    store sends anything from now on. Returns what changed, as ids.
    """
    changed_submissions, changed_orders = set(), set()
    for record in holdings.records:
        submission, order = record.submission, record.order
        fields = dict(submission.fields or {})
        if name and submission.name and "display_name" not in fields and submission.name != name:
            submission.name = name
            if "name" in fields:
                fields["name"] = name
            changed_submissions.add(submission.id)
        if address and "address" in fields and fields["address"] != address:
            fields["address"] = address
            changed_submissions.add(submission.id)
        submission.fields = fields
        if order is not None:
            if name and order.name != name:
                order.name = name
                changed_orders.add(order.id)
            if address and order.address != address:
                order.address = address
                changed_orders.add(order.id)
    if changed_submissions or changed_orders:
        audit(
            "visitor",
            "my-data.corrected",
            submissions=sorted(changed_submissions),
            orders=sorted(changed_orders),
            name=bool(name),
            address=bool(address),
        )
    return {"submissions": sorted(changed_submissions), "orders": sorted(changed_orders)}


@dataclass(frozen=True)
class Move:
    """What a change of address from ``old`` would move: counts only, nothing under the new address."""

    submissions: int
    orders: int
    subscription: bool


def moving(old: str) -> Move:
    """What :func:`move_address` would move away from ``old`` if it ran now."""
    submissions = db.session.execute(select(func.count()).select_from(_submissions_under(old).subquery())).scalar_one()
    orders = db.session.execute(select(func.count()).where(Order.email == old)).scalar_one()
    subscription = db.session.execute(select(Subscription.id).where(Subscription.email == old)).first()
    return Move(submissions=submissions, orders=orders, subscription=subscription is not None)


def move_address(old: str, new: str) -> dict:
    """Move everything under ``old`` to ``new`` (after ``new`` was verified; the caller commits).

    When ``new`` already has a newsletter subscription, that one stands and
    the old one ends; preferences are merged so that whatever either
    address turned off stays off.

    Every link and grant of ``old`` ends here, and none is carried over: a
    grant opens only the address it proved, and the browser that proved
    ``old`` never proved ``new``, whose earlier records it must not see. To
    see the moved records it opens a new link mailed to ``new``.
    """
    submissions = db.session.execute(update(Submission).where(Submission.email == old).values(email=new)).rowcount
    orders = db.session.execute(update(Order).where(Order.email == old).values(email=new)).rowcount

    old_subscription = db.session.execute(select(Subscription).where(Subscription.email == old)).scalar_one_or_none()
    if old_subscription is not None:
        taken = db.session.execute(select(Subscription.id).where(Subscription.email == new)).scalar_one_or_none()
        if taken:
            db.session.delete(old_subscription)
        else:
            old_subscription.email = new
            # Unsubscribe links mailed to the old address stop working with it.
            old_subscription.unsubscribe_token = new_unsubscribe_token()

    old_preference = db.session.get(EmailPreference, old)
    if old_preference is not None:
        preference = db.session.get(EmailPreference, new)
        if preference is None:
            db.session.add(
                EmailPreference(
                    email=new,
                    marketing_off=old_preference.marketing_off,
                    sharing_off=old_preference.sharing_off,
                )
            )
        else:
            preference.marketing_off = preference.marketing_off or old_preference.marketing_off
            preference.sharing_off = preference.sharing_off or old_preference.sharing_off
        db.session.delete(old_preference)

    ended = db.session.execute(delete(AccessLink).where(AccessLink.email == old)).rowcount
    audit("visitor", "my-data.email-changed", submissions=submissions, orders=orders, links_ended=ended)
    return {"submissions": submissions, "orders": orders}


# --- Download ------------------------------------------------------------------------------------


def _visit(visit: Visit) -> dict:
    return {
        "time": utc_text(visit.time),
        "ip": visit.ip,
        "domain": visit.domain,
        "domainConfirmed": visit.domain_confirmed,
        "method": visit.method,
        "path": visit.path,
        "query": visit.query,
        "status": visit.status,
        "userAgent": visit.user_agent,
        "referrer": visit.referrer,
        "visitorId": visit.visitor_id,
    }


def _ledger(entry: LedgerEntry) -> dict:
    return {
        "recipient": entry.recipient.name,
        "recipientKind": entry.recipient.kind,
        "purpose": entry.purpose,
        "time": utc_text(entry.created_at),
        "recordsInExport": entry.record_count,
    }


def _record(record: Record) -> dict:
    s = record.submission
    data = {
        "id": s.id,
        "kind": s.kind,
        "form": record.kind.service if record.kind else s.kind,
        "time": utc_text(s.created_at),
        "email": s.email,
        "name": s.name,
        "fields": s.fields,
        "choices": {"noMarketing": s.no_marketing, "noShare": s.no_share},
        "blockingSignal": s.blocking_signal,
        "recorded": (
            {
                "ip": s.ip,
                "domain": s.domain,
                "domainConfirmed": s.domain_confirmed,
                "visitorId": s.visitor_id,
            }
            if record.proven
            else None
        ),
        "addressProven": record.proven,
        "policyVersion": s.policy_version,
        "sharedWith": [_ledger(entry) for entry in record.ledger],
        # Shared before that moment stays in the ledger; from then on it is never shared again.
        "consentWithdrawnAt": utc_text(s.withdrawn_at),
        # The receipt (and its link) shows the request that carried it: the
        # sender's, not the address owner's, until the address is proven.
        "receipt": receipt_data(s) if record.proven else None,
    }
    if record.order:
        order = record.order
        data["order"] = {
            "number": order.number,
            "name": order.name,
            "email": order.email,
            "address": order.address,
            "totalCents": order.total_cents,
            "lines": [
                {
                    "product": line.product_name,
                    "unitPriceCents": line.unit_price_cents,
                    "quantity": line.quantity,
                }
                for line in order.lines
            ],
        }
    if record.registration:
        registration = record.registration
        data["registration"] = {
            "product": registration.product.name,
            "serialNumber": registration.serial_number,
            "purchaseDate": registration.purchase_date.isoformat(),
        }
    for key, post in (("boardPost", record.post), ("chatMessage", record.message)):
        if post:
            data[key] = {"displayName": post.display_name, "body": post.body, "hiddenByStaff": post.hidden}
    return data


def export(holdings: Holdings) -> dict:
    """One JSON-ready document of everything held under the address."""
    visitor_ids = sorted(holdings.trails)
    visits = []
    if visitor_ids:
        visits = db.session.execute(
            select(Visit).where(Visit.visitor_id.in_(visitor_ids)).order_by(Visit.time, Visit.id)
        ).scalars()
    subscription, preference = holdings.subscription, holdings.preference
    config = current_app.config
    return {
        "controller": {
            "name": config["STORE_NAME"],
            "email": config["STORE_EMAIL"],
            "address": config["STORE_ADDRESS"],
        },
        "exportedAt": utc_text(utcnow()),
        "email": holdings.email,
        "preferences": {
            "marketingOff": bool(preference and preference.marketing_off),
            "sharingOff": bool(preference and preference.sharing_off),
        },
        "newsletter": (
            {
                "status": subscription.status,
                "topics": subscription.topics,
                "since": utc_text(subscription.created_at),
                "confirmedAt": utc_text(subscription.confirmed_at),
                "unsubscribedAt": utc_text(subscription.unsubscribed_at),
            }
            if subscription
            else None
        ),
        "submissions": [_record(record) for record in holdings.records],
        "visits": [_visit(visit) for visit in visits],
    }


# --- Erasure ---------------------------------------------------------------------------------------


@dataclass
class Erased:
    submissions: int = 0
    orders: int = 0
    registrations: int = 0
    posts: int = 0
    subscriptions: int = 0
    preferences: int = 0
    links: int = 0
    visits: int = 0
    decisions: int = 0  # consent-log rows of the visitor ids
    mails: int = 0
    visitor_ids: set[str] = field(default_factory=set)


def erase(email: str) -> Erased:
    """Remove all personal data under ``email``, commit, and push it out of the database file.

    Submissions keep their row (kind, time, choices), so sharing-ledger
    history stays coherent, with every personal field emptied. Orders keep
    what accounting needs, without name, email or address. Board and chat
    posts say they were deleted by their author. The subscription,
    preferences, access links, product registrations and the visits linked
    through the submissions' visitor ids are deleted, and so are copies of
    mail to the address kept in the outbox. The daily figures of the days
    those visits fell on are counted again without them, and the archive
    keeps neither the visitor ids nor their addresses.

    Those visitor ids are retired, and their visits are blanked in every
    worker's spool file while the spools' erasure lock is held, so no
    copy waits on disk for a later batch (see :mod:`webshop.visits.retired`).
    """
    flush_visits(current_app)  # this process's spooled visits go into the table and are deleted with it
    submissions = db.session.execute(_submissions_under(email)).scalars().all()
    result = Erased(visitor_ids={s.visitor_id for s in submissions if s.visitor_id})
    _erase_and_scrub(email, submissions, result)
    result.mails = forget_mail(email)
    checkpoint()
    return result


def forget_browser(visitor_id: str) -> Erased:
    """Erase everything linked to one browser's visitor id, as :func:`erase` does for an address.

    Every submission sent with ``visitor_id`` and every visit carrying it,
    whatever address they hold; the address's own preferences, links and
    other browsers' submissions stay. Copies of mail to or from the
    addresses of those submissions leave the outbox. The id is retired.
    """
    flush_visits(current_app)
    submissions = (
        db.session.execute(
            select(Submission).where(Submission.visitor_id == visitor_id, Submission.erased_at.is_(None))
        )
        .scalars()
        .all()
    )
    addresses = {s.email for s in submissions if s.email}
    result = Erased(visitor_ids={visitor_id})
    _erase_and_scrub(None, submissions, result)
    result.mails = sum(forget_mail(address) for address in sorted(addresses))
    checkpoint()
    return result


def _erase_and_scrub(email: str | None, submissions: list[Submission], result: Erased) -> None:
    """Erase the rows and commit, then blank the visitor ids' visits in the spools, under the spools' lock."""
    spools = retired_visitors()
    with spool_lock(spools.spool_dir, exclusive=True):
        _erase_rows(email, submissions, result)
        db.session.commit()
        if result.visitor_ids:
            spools.announce()
            scrub_spools(spools.spool_dir, result.visitor_ids)


def _erase_rows(email: str | None, submissions: list[Submission], result: Erased) -> None:
    """Erase ``submissions`` and what hangs off them; with ``email``, also what the address holds itself."""
    ids = [s.id for s in submissions]
    lock_tallies({s.kind for s in submissions})
    if ids:
        result.registrations = db.session.execute(
            delete(ProductRegistration).where(ProductRegistration.submission_id.in_(ids))
        ).rowcount
        for model in (BoardPost, ChatMessage):
            result.posts += db.session.execute(
                update(model)
                .where(model.submission_id.in_(ids))
                .values(display_name=DELETED_NAME, body=DELETED_BY_AUTHOR)
            ).rowcount
    by_address = email is not None  # None: a browser is forgotten, not an address (never "email IS NULL")
    result.orders = db.session.execute(
        update(Order)
        .where(or_(Order.email == email, Order.submission_id.in_(ids)) if by_address else Order.submission_id.in_(ids))
        .values(name=None, email=None, address=None)
    ).rowcount
    result.subscriptions = db.session.execute(
        delete(Subscription).where(
            or_(Subscription.email == email, Subscription.submission_id.in_(ids))
            if by_address
            else Subscription.submission_id.in_(ids)
        )
    ).rowcount
    if by_address:
        result.preferences = db.session.execute(delete(EmailPreference).where(EmailPreference.email == email)).rowcount
        result.links = db.session.execute(
            delete(AccessLink).where(or_(AccessLink.email == email, AccessLink.new_email == email))
        ).rowcount
    if result.visitor_ids:
        with recounted(result.visitor_ids):  # their visits leave the daily figures, their ids and addresses too
            result.visits = db.session.execute(
                delete(Visit).where(Visit.visitor_id.in_(sorted(result.visitor_ids)))
            ).rowcount
        result.decisions = db.session.execute(
            delete(ConsentDecision).where(ConsentDecision.visitor_id.in_(sorted(result.visitor_ids)))
        ).rowcount
        retire(result.visitor_ids)
    now = utcnow()
    for submission in submissions:
        submission.email = submission.name = submission.ip = submission.domain = None
        submission.visitor_id = None
        submission.domain_confirmed = False
        submission.fields = {}
        submission.receipt_document = None  # it names the person
        submission.erased_at = now
    result.submissions = len(submissions)
    audit(
        "visitor",
        "my-data.erased" if by_address else "my-data.browser-forgotten",
        submissions=result.submissions,
        orders=result.orders,
        registrations=result.registrations,
        posts=result.posts,
        subscriptions=result.subscriptions,
        visits=result.visits,
        decisions=result.decisions,
    )


ADDRESS_HEADERS = ("From", "To", "Cc", "Reply-To")


def forget_mail(email: str) -> int:
    """Delete copies of mail to or from ``email`` kept in the outbox.

    A message is deleted when one of its address headers holds exactly
    this address; ``xa@b.example`` is another person's address than ``a@b.example``.
    """
    outbox = mail.open_outbox()
    wanted = email.lower()
    removed = 0
    for entry in mail.outbox_messages():
        if wanted in addresses_of(entry.message):
            outbox.discard(entry.key)
            removed += 1
    return removed


def addresses_of(message) -> set[str]:
    """Every address in the message's address headers, lower-cased."""
    values = [str(value) for name in ADDRESS_HEADERS for value in message.get_all(name, [])]
    return {address.lower() for _name, address in getaddresses(values) if address}


def checkpoint() -> None:
    """Copy the write-ahead log into the SQLite file and empty it.

    With ``secure_delete`` on (every connection, see ``db.py``) erased rows
    are overwritten with zeros; the checkpoint makes sure older copies of
    those pages do not linger in the ``-wal`` file either. PostgreSQL keeps
    dead row versions until VACUUM (see docs/privacy-practices.md).
    """
    if db.engine.dialect.name != "sqlite":
        return
    for _ in range(5):
        busy, _log, _moved = db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)")).one()
        db.session.commit()
        if not busy:
            return
    log.warning("the write-ahead log could not be emptied after erasure; it will be at the next checkpoint")
