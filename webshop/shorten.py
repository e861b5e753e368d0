"""Shortened identifying values, for pages that a copied cookie or a forwarded link opens.

The visitor cookie is a bearer credential: whoever holds a copy is this
browser to the shop. So what the cookie alone opens ("your data" for this
browser, the policy's evidence panels) and what a receipt link opens show
an IP address cut to its network (IPv4 /24, IPv6 /48; see
docs/privacy-practices.md), a domain name cut to its last two labels (a
PTR name often spells the whole address), no query string (where search
words live), and what people typed only by its first character
(``j***@example.com``). The full values are shown behind the link mailed
to the address.

The same network is what is stored once a full address is no longer kept
(``IP_RETENTION_DAYS``): :func:`truncated_ip` for the purge and the
exports, :func:`stored_ip` for new rows.
"""

import ipaddress

HIDDEN = "hidden"
PREFIX = {4: 24, 6: 48}
DOMAIN_LABELS = 2


def short_ip(value: str | None) -> str | None:
    """``value``'s network, such as ``203.0.113.0/24``; ``hidden`` if it is not one IP address.

    A value already shortened (``203.0.113.0/24``, as stored once full
    addresses are no longer kept) comes back as it is.
    """
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return value if is_short_ip(value) else HIDDEN
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    network = ipaddress.ip_network(f"{address}/{PREFIX[address.version]}", strict=False)
    return str(network)


def is_short_ip(value: str) -> bool:
    """True if ``value`` is a network as :func:`short_ip` writes it (or a narrower cut of one)."""
    if "/" not in value:
        return False
    try:
        network = ipaddress.ip_network(value)
    except ValueError:
        return False
    return network.prefixlen <= PREFIX[network.version]


def truncated_ip(value: str | None) -> str | None:
    """What is stored once a full address is no longer kept: its network (``203.0.113.0/24``,
    ``2001:db8:85a3::/48``); a value already shortened stays as it is, and one that is
    neither an address nor such a network becomes ``None`` (unknown)."""
    shortened = short_ip(value)
    return None if shortened == HIDDEN else shortened


def stored_ip(value: str | None, retention_days: int) -> str | None:
    """The address to store for a new row: the full one while full addresses are kept at
    all, its network from the start when ``IP_RETENTION_DAYS`` is 0."""
    return value if retention_days > 0 else truncated_ip(value)


def short_domain(value: str | None) -> str | None:
    """The last two labels of a domain name, such as ``…isp.example``."""
    if not value:
        return None
    labels = value.rstrip(".").split(".")
    if len(labels) <= DOMAIN_LABELS:
        return value
    return "…" + ".".join(labels[-DOMAIN_LABELS:])


def mask_email(value: str) -> str:
    """``j***@example.com`` for ``jane@example.com``."""
    local, _, domain = value.rpartition("@")
    if not local:
        return mask_text(value)
    return f"{local[0]}***@{domain}"


def mask_text(value: str) -> str:
    """The first character of ``value`` and ``***``."""
    value = value.strip()
    return f"{value[0]}***" if value else ""


def init_app(app):
    app.add_template_filter(short_ip)
    app.add_template_filter(short_domain)
