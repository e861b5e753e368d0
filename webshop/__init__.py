"""webshop: a storefront that demonstrates its own privacy policy."""

from flask import Flask

from . import config
from .private_files import private_dir


def create_app(test_config=None, instance_path=None):
    """Build the app: settings, then each concern in the order a request meets it.

    Without ``test_config`` the settings come from ``instance/config.py`` and
    ``FLASK_*`` variables; with it, from ``test_config`` alone (over the defaults).
    """
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    private_dir(app.instance_path)  # it holds the database, the spool, the outbox and the key

    from . import (
        backup,
        board,
        cart,
        catalogue,
        chat,
        checkout,
        consent,
        contact,
        db,
        limits,
        logs,
        newsletter,
        outage,
        popular,
        privacy,
        registration,
        security,
        shop,
        signing_keys,
        staff,
        submissions,
        survey,
        templating,
        visits,
    )
    from .privacy import my_data, p3p, receipts, source

    # The core's defaults and each feature's own, declared beside its views.
    config.load(
        app,
        test_config,
        limits.CONFIG,
        visits.CONFIG,
        submissions.CONFIG,
        newsletter.CONFIG,
        chat.CONFIG,
        popular.CONFIG,
        receipts.CONFIG,
        my_data.CONFIG,
        p3p.CONFIG,
        source.CONFIG,
        staff.CONFIG,
    )
    logs.init_app(app)  # log format and level, before anything logs
    app.url_map.converters["int"] = security.IntegerColumnConverter  # before any route is added

    db.init_app(app)  # database
    catalogue.init_app(app)  # flask init-db: the schema and the demo catalogue
    outage.init_app(app)  # 503 while the database is out of reach
    templating.init_app(app)  # template filters; templates compiled once per process
    consent.init_app(app)  # first hook: g.blocking_signal, g.consent_acknowledged
    visits.init_app(app)  # g.client_ip, g.visitor_id, the visit clock; the visit row in teardown
    security.init_app(app)  # host and request checks, CSRF; headers and error pages
    cart.init_app(app)  # g.cart in, cookie out
    limits.init_app(app)  # abuse limits, each checked by the view that carries it
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
    signing_keys.init_app(app)  # refuse to start with keys other than the ones the shared database records

    return app
