"""Every table the shop keeps, one module per area.

``catalogue`` (products), ``consent`` (the consent log), ``submissions`` (the personal-information forms,
what each keeps, and their tallies per form), ``orders``, ``audit``, ``visits`` (the visit log, retired
visitor ids and the daily archive of its figures), ``access`` ("your data" links), ``sharing`` (recipients and the
export ledger), ``staff`` and ``keys`` (the signing keys every host must share). Import models from here.
"""

from ..db import utcnow
from .access import AccessLink
from .audit import AuditEvent, audit
from .catalogue import Category, Product
from .consent import ConsentDecision
from .keys import SigningKeyCheck
from .orders import Order, OrderLine
from .sharing import LedgerEntry, LedgerItem, Recipient
from .staff import Notice, NoticeDelivery, SignInThrottle, StaffSession, StaffUser
from .submissions import (
    BoardPost,
    ChatMessage,
    EmailPreference,
    ProductRegistration,
    Submission,
    SubmissionDayTally,
    SubmissionTally,
    Subscription,
    new_receipt_id,
    new_unsubscribe_token,
)
from .visits import (
    DOMAIN_MAX,
    PATH_MAX,
    QUERY_MAX,
    REFERRER_MAX,
    USER_AGENT_MAX,
    RetiredVisitor,
    Visit,
    VisitDay,
    VisitDayAddress,
    VisitDayDomain,
    VisitDayPage,
    VisitDayVisitor,
    VisitSpan,
)

__all__ = [
    "DOMAIN_MAX",
    "PATH_MAX",
    "QUERY_MAX",
    "REFERRER_MAX",
    "USER_AGENT_MAX",
    "AccessLink",
    "AuditEvent",
    "BoardPost",
    "Category",
    "ChatMessage",
    "ConsentDecision",
    "EmailPreference",
    "LedgerEntry",
    "LedgerItem",
    "Notice",
    "NoticeDelivery",
    "Order",
    "OrderLine",
    "Product",
    "ProductRegistration",
    "Recipient",
    "RetiredVisitor",
    "SignInThrottle",
    "SigningKeyCheck",
    "StaffSession",
    "StaffUser",
    "Submission",
    "SubmissionDayTally",
    "SubmissionTally",
    "Subscription",
    "Visit",
    "VisitDay",
    "VisitDayAddress",
    "VisitDayDomain",
    "VisitDayPage",
    "VisitDayVisitor",
    "VisitSpan",
    "audit",
    "new_receipt_id",
    "new_unsubscribe_token",
    "utcnow",
]
