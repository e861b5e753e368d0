"""The reviewer tour: steps to watch each practice happen, with this browser's live state.

The steps are data so that the page, its test and the tour in
``docs/privacy-practices.md`` follow one order. Each step names the clause
it shows, the page to open, what to do there and what to expect; the page
adds what the store holds for this browser right now (see
:func:`live_state`).
"""

from dataclasses import dataclass

from sqlalchemy import select

from ..db import db
from ..links import current_grant
from ..models import Product
from . import cookie_page, evidence
from .practice import PRACTICES


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    clauses: tuple[str, ...]
    endpoint: str  # where to go, as a Flask endpoint
    anchor: str | None
    todo: str
    expect: str


STEPS = [
    Step(
        "banner",
        "Make your choice on the privacy banner",
        ("consent", "cookies"),
        "shop.home",
        None,
        'Open the shop and press "Accept" on the banner (or "Decline": then nothing links your visits).',
        "The banner goes away; a consent cookie holds your choice and the policy version, and a visitor id cookie "
        "starts linking this browser's visits (not while it sends a blocking signal).",
    ),
    Step(
        "cart",
        "Put something in the cart and see the cookie decoded",
        ("cookies",),
        "shop.product",
        None,
        'Add this product to the cart, then open "Your data".',
        "The cart cookie is shown in its three signed parts, and its payload decoded: product ids "
        "and quantities, never prices or personal data.",
    ),
    Step(
        "visits",
        "Watch your visits being recorded",
        ("collect-ip",),
        "privacy.policy",
        "collect-ip",
        "Open the policy's first clause.",
        "The IP address and domain stored for that very request, and the latest visits "
        "linked to this browser's visitor id.",
    ),
    Step(
        "newsletter",
        'Sign up for the newsletter with "don\'t share" ticked',
        ("opt-out", "combine", "where-submitted"),
        "newsletter.signup",
        None,
        'Enter an address, choose a topic, tick "Don\'t share this with other organisations" and send.',
        "Back here, your signup is listed with its choices, and the sharing rules' live verdict says "
        "it would be left out of every marketing export, and why.",
    ),
    Step(
        "receipt",
        "Open your consent receipt",
        ("consent",),
        "privacy.tour",
        "receipt",
        "Follow the receipt link of your signup (below, or on its confirmation page).",
        "A Kantara-style receipt: controller, policy version, purposes, what is shared with whom, "
        "and your two choices; the same as JSON.",
    ),
    Step(
        "sharing",
        "See where your choices end up",
        ("sharing", "opt-out"),
        "privacy.policy",
        "sharing",
        "Read the sharing and opt-out panels of the policy.",
        "The ledger's entries and recipients, how many records an export made now would hold, and "
        "the opt-out rates of every form, counted from the table.",
    ),
    Step(
        "gpc",
        "Send Global Privacy Control and see no IP stored",
        ("blocking", "collect-ip"),
        "privacy.policy",
        "blocking",
        'Turn on Global Privacy Control in your browser (Firefox: Settings → Privacy → "Tell '
        'websites not to sell or share my data"; Brave sends it by default), or use '
        "curl -H 'Sec-GPC: 1', and open the policy again.",
        "The blocking panel says the signal was received; the first clause shows that no IP "
        "address, domain or visitor id is stored for the request, and no visitor cookie is set.",
    ),
    Step(
        "my-data",
        "Ask for everything under your address",
        ("access", "other-sources"),
        "my_data.overview",
        "by-email",
        "Enter the address you used and open the link that is mailed to it.",
        "Every record under that address from every form, each with its own choices, receipt, "
        "visits and sharing history; correct, download or erase it there.",
    ),
    Step(
        "map",
        "Follow a clause to its code and tests",
        tuple(PRACTICES),
        "privacy.practice_map",
        None,
        'Open the clause map, or the "Code and tests" part under any clause of the policy.',
        "For each clause: the features, routes, modules and functions, and the pytest node ids "
        "that prove it. A test fails if any of them stops existing.",
    ),
]


@dataclass
class TourState:
    request: evidence.ThisRequest
    consent: evidence.ConsentState
    cart: cookie_page.CookieReport
    product_slug: str | None
    visit_total: int
    records: list[evidence.BrowserRecord]
    signups: list[evidence.BrowserRecord]
    sharing: evidence.SharingSummary
    has_grant: bool


def live_state() -> TourState:
    """What the store holds for this browser now, step by step."""
    current = evidence.this_request()
    total, _ = evidence.recent_visits(current.visitor_id, limit=0)
    records = evidence.browser_records(current.visitor_id)
    cart = next(r for r in cookie_page.cookie_reports() if r.spec.name == "cart")
    query = select(Product.slug).where(Product.active.is_(True)).order_by(Product.id).limit(1)
    return TourState(
        request=current,
        consent=evidence.consent_state(),
        cart=cart,
        product_slug=db.session.execute(query).scalar(),
        visit_total=total,
        records=records,
        signups=[r for r in records if r.submission.kind == "newsletter"],
        sharing=evidence.sharing_summary(),
        has_grant=current_grant() is not None,
    )
