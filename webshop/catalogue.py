"""The demo catalogue, its idempotent seeding and ``flask init-db``."""

import click
from flask.cli import with_appcontext
from flask_migrate import upgrade

from .db import MIGRATIONS_DIR, db
from .models import Category, Product

CATEGORIES = [
    ("phones", "Phones", "Pocket computers that also make calls.", "phone"),
    ("laptops", "Laptops", "Portable machines for work and play.", "laptop"),
    ("audio", "Audio", "Headphones and speakers.", "audio"),
    ("cameras", "Cameras", "Lenses, sensors and shutters.", "camera"),
    ("wearables", "Wearables", "Watches and trackers.", "watch"),
    ("accessories", "Accessories", "Cables, chargers and small helpers.", "plug"),
]

# (slug, name, category, price in cents, hue, description)
PRODUCTS = [
    ("aurora-x1", "Aurora X1 Phone", "phones", 64900, 210, "A 6.1-inch phone with a two-day battery."),
    ("aurora-x1-mini", "Aurora X1 Mini", "phones", 49900, 190, "The X1 in a size that fits every pocket."),
    ("pebble-5g", "Pebble 5G", "phones", 29900, 140, "An honest, sturdy phone with a removable battery."),
    ("nimbus-fold", "Nimbus Fold", "phones", 149900, 275, "A phone that opens into a small tablet."),
    ("ledger-14", "Ledger 14 Laptop", "laptops", 109900, 30, "14-inch, 16 GB, quiet fanless design."),
    ("ledger-16-pro", "Ledger 16 Pro", "laptops", 189900, 10, "16-inch workstation with a bright matte screen."),
    ("sprout-book", "Sprout Book", "laptops", 39900, 100, "A light student laptop with a full-size keyboard."),
    ("forge-gaming-15", "Forge Gaming 15", "laptops", 159900, 350, "A 165 Hz screen and a serious graphics card."),
    ("hush-anc", "Hush ANC Headphones", "audio", 24900, 260, "Over-ear, active noise cancelling, 30 h battery."),
    ("tidal-buds", "Tidal Buds", "audio", 12900, 185, "Wireless earbuds with a pocketable case."),
    ("boom-cube", "Boom Cube Speaker", "audio", 8900, 20, "A rugged speaker that floats."),
    ("studio-monitor-5", "Studio Monitor 5", "audio", 34900, 45, "A pair of nearfield monitors for home studios."),
    ("lumen-m50", "Lumen M50 Camera", "cameras", 89900, 0, "Mirrorless, 24 MP, weather sealed."),
    ("lumen-pocket", "Lumen Pocket", "cameras", 34900, 330, "A compact camera with a 1-inch sensor."),
    ("vista-action-4k", "Vista Action 4K", "cameras", 27900, 120, "A helmet camera that shrugs off rain."),
    ("prime-35mm", "Prime 35 mm f/1.8 Lens", "cameras", 39900, 60, "A bright everyday lens for the Lumen mount."),
    ("pulse-watch-2", "Pulse Watch 2", "wearables", 29900, 300, "Heart rate, GPS and a week of battery."),
    ("stride-band", "Stride Band", "wearables", 5900, 160, "A simple step and sleep tracker."),
    ("orbit-ring", "Orbit Ring", "wearables", 19900, 50, "A titanium ring that counts your sleep."),
    ("tempo-kids", "Tempo Kids Watch", "wearables", 7900, 90, "A tough watch with a school mode."),
    ("braid-usb-c-2m", "Braided USB-C Cable 2 m", "accessories", 1900, 220, "100 W, USB 3.2, braided sleeve."),
    ("gan-charger-65", "GaN Charger 65 W", "accessories", 4900, 240, "Three ports, folds flat."),
    ("dock-7in1", "7-in-1 USB-C Dock", "accessories", 6900, 200, "HDMI, Ethernet, SD and three USB ports."),
    ("powerbank-20k", "Power Bank 20,000 mAh", "accessories", 5900, 80, "Charges a laptop once, a phone four times."),
    ("sleeve-14", 'Felt Laptop Sleeve 14"', "accessories", 2900, 35, "Wool felt with a magnetic flap."),
    ("stylus-pro", "Stylus Pro", "accessories", 8900, 170, "Pressure-sensitive pen with palm rejection."),
]


def seed_catalogue() -> int:
    """Insert missing categories and products; return how many products were added.

    Existing rows are left as they are (staff may have changed prices), so
    running it twice adds nothing the second time.
    """
    categories = {c.slug: c for c in db.session.execute(db.select(Category)).scalars()}
    for slug, name, blurb, _motif in CATEGORIES:
        if slug not in categories:
            categories[slug] = Category(slug=slug, name=name, blurb=blurb)
            db.session.add(categories[slug])
    motifs = {slug: motif for slug, _n, _b, motif in CATEGORIES}

    existing = set(db.session.execute(db.select(Product.slug)).scalars())
    added = 0
    for slug, name, category, price, hue, description in PRODUCTS:
        if slug in existing:
            continue
        db.session.add(
            Product(
                slug=slug,
                name=name,
                category=categories[category],
                price_cents=price,
                hue=hue,
                motif=motifs[category],
                description=description,
            )
        )
        added += 1
    db.session.commit()
    return added


@click.command("init-db")
@with_appcontext
def init_db_command():
    """Create or upgrade the schema and seed the demo catalogue."""
    upgrade(directory=MIGRATIONS_DIR, revision="head")
    added = seed_catalogue()
    click.echo(f"Database ready; {added} products added to the catalogue.")


def init_app(app):
    app.cli.add_command(init_db_command)
