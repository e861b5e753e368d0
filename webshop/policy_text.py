"""The text of the store's privacy policy: its revisions and one clause per practice, each with a stable id.

The ids are the anchors of ``/privacy`` and the keys of the practice map;
the wording is the store's own. ``REVISIONS`` is the policy's changelog,
oldest first; the last one is ``POLICY_VERSION``. Every submission records
the version it was sent under, and adding a revision shows the consent
banner again to everyone who acknowledged an older version, with what
changed since theirs. The pages that show the policy are in
:mod:`webshop.privacy`.
"""

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class PolicyRevision:
    """One published version of the policy: when it took effect and what changed in it."""

    version: str  # at most 20 characters (the column every submission stores it in)
    date: date
    changes: tuple[str, ...]


REVISIONS = [
    PolicyRevision(
        "2026-11",
        date(2026, 11, 26),
        ("The first version of this policy, clause by clause, each beside its live evidence.",),
    ),
    PolicyRevision(
        "2026-12",
        date(2026, 12, 2),
        (
            "Sharing: we share or use for marketing only what was sent by someone who proved the address is theirs.",
            "Cookies: our cookies work like a key, so what a cookie alone opens is shortened.",
            "Your data: the page for this browser and the page for an email address, and what each shows.",
        ),
    ),
    PolicyRevision(
        "2026-12-02",
        date(2026, 12, 2),
        (
            "You may decline on the banner, which counts as blocking technology, and change your mind at any time.",
            "Every choice you make on the banner is kept in a consent log you can read.",
            "You can make us forget this browser without giving an email address.",
            "Receipts are frozen when given and signed, so anyone can check them.",
            "Full IP addresses are kept for a set number of days, then shortened to their network.",
            "Newsletter subscribers have a preference centre: change topics, pause or unsubscribe.",
        ),
    ),
]
POLICY_VERSION = REVISIONS[-1].version
VERSIONS = [revision.version for revision in REVISIONS]


def changes_since(version: str | None) -> list[PolicyRevision]:
    """The revisions published after ``version``, oldest first.

    A version this list does not hold (none, a tampered cookie, a version
    from before the changelog) gives every revision: there is no telling
    which of them its holder read.
    """
    if version in VERSIONS:
        return REVISIONS[VERSIONS.index(version) + 1 :]
    return list(REVISIONS)


def ip_retention_text(days: int) -> str:
    """The policy's sentence on how long full IP addresses are kept, for ``IP_RETENTION_DAYS``."""
    if days == 0:
        kept = "We do not keep your full IP address: it is shortened at once"
    else:
        kept = f"We keep your full IP address for {days} {'day' if days == 1 else 'days'}; after that it is shortened"
    return (
        f"{kept} to its network, the first three numbers of an IPv4 address (a /24) or the first "
        "three groups of an IPv6 address (a /48), in our visit log, with what you send us and in "
        "newsletter confirmations. Our domain name lookup uses the full address while your request "
        "is being answered."
    )


@dataclass(frozen=True)
class Clause:
    id: str
    title: str
    text: str


CLAUSES = [
    Clause(
        "collect-ip",
        "What our web server records on every visit",
        "Each time your browser asks our server for a page, the server writes down "
        "the time, your IP address and, where it can be looked up, the domain name "
        "that address belongs to, together with the page asked for, how it went, "
        "your browser's self-description and the page that sent you. We do not do "
        "this if your browser tells us that it blocks tracking.",
    ),
    Clause(
        "combine",
        "Putting visits and submissions together",
        "When you send us something through one of our forms, for example your "
        "email address, we keep the IP address and domain name of that request "
        "with it. That lets us connect what you sent to the visits your browser "
        "made before.",
    ),
    Clause(
        "where-submitted",
        "Where you give us information",
        "You give us information when you post on the bulletin board, send us an "
        "email through the contact form, write in the chat area, register a "
        "product, answer our survey, place an order, or sign up for the newsletter.",
    ),
    Clause(
        "cookies",
        "Cookies",
        "We use cookies to remember what you are doing here, for example the items "
        "you intend to buy. The list of every cookie we set, what it holds and how "
        "long it lasts is on this page and comes from the same list our software uses. "
        "Our cookies work like a key: anyone who copies your visitor cookie into "
        "another browser is your browser to us, sees what it alone opens, and has "
        "their visits linked to yours. So what a cookie alone opens is shortened. "
        "The visitor cookie is set only after you accept on our banner; your choice, "
        "accept or decline, is kept in a cookie of its own.",
    ),
    Clause(
        "uses",
        "What we use it for",
        "We look at what we collect to review how the shop is used, to improve and "
        "tailor its content and layout, and to tell people about updates to the site.",
    ),
    Clause(
        "sharing",
        "Who we share it with",
        "We may pass information to organisations we are affiliated with and to "
        "other companies, for example for their marketing. Nothing you marked "
        '"don\'t share" is ever passed on, and every time we pass anything on we '
        "write it in a ledger you can read. We share or use for marketing only "
        "what was sent by someone who proved the address is theirs: a newsletter "
        "signup once the link we mail for it is followed, anything else only if the "
        'browser that sent it opened "your data" for that address, with the link we '
        "mail to it, before or after sending it. So an address typed "
        "into a survey, a product registration or another form by anyone else is "
        "never shared or used for marketing.",
    ),
    Clause(
        "opt-out",
        "Saying no, form by form",
        "Every page that asks for personal information has two boxes, unticked "
        "unless you tick them: one to keep that submission out of our marketing and "
        "one to keep it from being shared. Your choice applies to that submission only.",
    ),
    Clause(
        "other-sources",
        "Information we already have",
        "We may already hold information about you from somewhere else, such as a "
        "product registration. Opting out on one form does not change what you "
        "chose on another; your data page shows every record with its own choices.",
    ),
    Clause(
        "access",
        "Seeing and changing your information",
        "You can see what we hold about you, correct it, download it, choose your "
        'preferences and have it erased, from the "your data" page. What your '
        "browser's cookies alone open there and on this page shows IP addresses only "
        "as their network and nothing you typed into a search, form or message, "
        "because anyone with a copy of the cookies could see it; everything, in "
        "full, is shown only after you open a link we mail to your address. Without "
        "any email, you can download what this browser's visitor cookie links to, "
        "or have us forget this browser: everything linked to it is erased and its "
        "cookies are deleted.",
    ),
    Clause(
        "consent",
        "Your agreement",
        "Our banner asks you to accept or decline, with two equal buttons. If you "
        "accept, sending us information means you agree to the uses described here. "
        "If you do not agree you can decline on the banner, opt out on the form, use "
        "technology that blocks tracking, or simply not send it. You can change your "
        'mind at any time on the "your data" page and on this page; every choice is '
        "kept in a consent log you can see, and declining after accepting withdraws "
        "your consent: what your browser sent before is never shared again. Every "
        "submission gets a receipt that records what you agreed to at that moment. "
        "It is never rewritten, it is signed so that anyone can check we issued it, "
        "and it shows whether your consent still stands.",
    ),
    Clause(
        "blocking",
        "Blocking technology",
        "If your browser sends a Global Privacy Control or Do Not Track signal, we "
        "count the visit but keep no IP address, domain name or visitor id, set no "
        "visitor cookie, and treat anything you send in that visit as \"don't "
        'share". Declining on our banner counts as such a signal. If your browser '
        "starts sending one after you accepted, we take it as withdrawing your "
        "consent, once, and delete the visitor cookie. The shop works with cookies "
        "refused; the cart says plainly that it needs one.",
    ),
    Clause(
        "contact",
        "How to reach us",
        "Write to us at the email or postal address below, or use the contact form.",
    ),
]

CLAUSE_IDS = [clause.id for clause in CLAUSES]
