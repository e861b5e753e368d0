"""webshop: a storefront that demonstrates its own privacy policy."""

from flask import Flask

from . import config
from .private_files import private_dir


def create_app(test_config=None, instance_path=None):
    """Build the app: configuration, then each concern in the order a request needs it."""
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    private_dir(app.instance_path)  # it holds the database, the spool, the outbox and the key

    app.config.from_mapping(config.DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env()
    if test_config:
        app.config.from_mapping(test_config)
    config.finish(app)

    from . import logs

    logs.init_app(app)

    from . import (
        backup,
        board,
        cart,
        chat,
        checkout,
        consent,
        contact,
        db,
        limits,
        newsletter,
        outage,
        privacy,
        registration,
        security,
        shop,
        staff,
        submissions,
        survey,
        text,
        visits,
    )
    from .privacy import my_data, receipts

    db.init_app(app)  # database
    text.init_app(app)  # words for numbers in templates
    security.init_app(app)  # CSRF, headers, error pages
    outage.init_app(app)  # 503 while the database is out of reach
    consent.init_app(app)  # g.blocking_signal, g.consent_acknowledged
    visits.init_app(app)  # client IP, visitor id, the visit row
    cart.init_app(app)  # g.cart in, cookie out
    shop.init_app(app)  # catalogue and cart pages
    checkout.init_app(app)  # fulfillment orders
    submissions.init_app(app)  # confirmation pages of every personal-information form
    receipts.init_app(app)  # consent receipts, as pages, JSON and mail
    newsletter.init_app(app)  # double opt-in signup, one-click unsubscribe
    survey.init_app(app)  # customer survey
    registration.init_app(app)  # product registration
    contact.init_app(app)  # "send us an email"
    board.init_app(app)  # bulletin board
    chat.init_app(app)  # chat room
    privacy.init_app(app)  # the policy
    my_data.init_app(app)  # "your data": see, correct, download, erase
    staff.init_app(app)  # /admin: sign-in, dashboard, review, export, notices
    backup.init_app(app)  # flask backup
    limits.init_app(app)  # abuse limits, on the views registered above

    return app
