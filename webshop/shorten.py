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
"""

import ipaddress

HIDDEN = "hidden"
PREFIX = {4: 24, 6: 48}
DOMAIN_LABELS = 2


def short_ip(value: str | None) -> str | None:
    """``value``'s network, such as ``203.0.113.0/24``; ``hidden`` if it is not one IP address."""
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return HIDDEN
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    network = ipaddress.ip_network(f"{address}/{PREFIX[address.version]}", strict=False)
    return str(network)


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
