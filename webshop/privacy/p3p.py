"""An optional P3P compact policy header, kept as a historical note.

P3P (the W3C Platform for Privacy Preferences, 2002) let a site describe
its practices in a ``P3P: CP="..."`` header of three-letter tokens. It is
obsolete: the W3C ended the work in 2018, no current browser reads the
header, and Internet Explorer, the only browser that acted on it, has been
retired. The header is therefore off by default (``P3P_COMPACT_POLICY``)
and changes nothing for anyone; the live policy is ``/privacy`` and its
machine-readable map ``/privacy/practice.json``. When it is switched on,
the tokens below describe what this site actually does.

Left out on purpose: ``NOI``/``NID`` (the site does collect identified
data), ``DSP``/``COR`` (the policy names no dispute procedure), ``TAI``
(nothing is tailored to one visitor; the popular shelf is the same for
everyone), ``TEL``/``HIS``, ``DEL`` (no delivery company receives data),
``FIN``/``HEA``/``GOV``/``LOC``/``POL``/``DEM`` (never asked for), ``TST``.
"""

from flask import current_app

CONFIG = {
    "P3P_COMPACT_POLICY": False,  # True sends the header on every response
}

# (token, why it is true of this site)
TOKENS = [
    # ACCESS
    ("ALL", '"Your data" shows all identified data held under an address: submissions, visits, ledger.'),
    # PURPOSE
    ("CUR", "Form data completes what it was sent for: the order, the signup, the message."),
    ("ADM", "The visit log and staff review serve running the site."),
    ("DEV", "The dashboard's figures are used to improve the shop's content and layout."),
    ("PSA", "Visits are analysed by visitor id (a pseudonym): the dashboard and the popular shelf."),
    ("IVA", "Staff can see a visitor profile joining visits with identified submissions."),
    ("CONi", "Site-update notices go only to addresses that confirmed a newsletter signup (opt-in)."),
    # RECIPIENT
    ("OUR", "The store itself."),
    ("OTRo", 'Affiliated organisations may receive marketing lists, unless "don\'t share" was ticked.'),
    ("UNRo", 'Other companies may receive marketing lists, unless "don\'t share" was ticked.'),
    ("PUB", "Bulletin-board posts and chat messages are shown to everyone."),
    # RETENTION
    ("BUS", "Visits are kept for the published VISIT_RETENTION_DAYS, then purged."),
    ("IND", 'Submissions are kept until the person erases them on "your data".'),
    # CATEGORIES
    ("PHY", "Name and postal address on orders and product registrations."),
    ("ONL", "Email addresses on every form that asks for one."),
    ("UNI", "The visitor id cookie and consent receipt ids."),
    ("PUR", "Orders: what was bought, at which price."),
    ("COM", "IP address, domain name and user agent of every visit."),
    ("NAV", "The pages asked for and the referrer, in the visit log."),
    ("INT", "Survey answers and product registrations."),
    ("CNT", "What people write in contact messages, board posts and chat."),
    ("STA", "Cookies: the cart, the consent acknowledgement, the visitor id, the session."),
    ("PRE", "Newsletter topics and the opt-out choices made on each form."),
]

COMPACT_POLICY = " ".join(token for token, _ in TOKENS)


def add_header(response):
    if current_app.config["P3P_COMPACT_POLICY"]:
        response.headers.setdefault("P3P", f'CP="{COMPACT_POLICY}"')
    return response


def init_app(app):
    app.after_request(add_header)
