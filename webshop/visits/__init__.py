"""Visit recording: who asked for what, when.

``identity`` decides the IP and visitor id (never a ``retired`` one),
``record`` writes one row per request through the durable ``writer``, ``rdns`` fills in domain names in
the background, and ``cli`` purges and exports the log.
"""

from datetime import timedelta

from ..models import utcnow
from ..submission_domains import fill_domain as fill_submission_domain
from . import cli, identity, record, routes
from .rdns import DomainResolver
from .retired import RetiredVisitors
from .writer import FILL_WINDOW_SECONDS, VisitWriter, flush, spool_dir, stop_all

__all__ = ["init_app", "flush", "shutdown", "stop_all"]

CONFIG = {
    "VISITS_ENABLED": True,
    "VISIT_RETENTION_DAYS": 90,
    # Days a full IP address is kept before `flask visits purge` cuts it to its
    # network (IPv4 /24, IPv6 /48); 0 stores only the network from the start.
    "IP_RETENTION_DAYS": 30,
    "RDNS_ENABLED": True,
    "RDNS_NAMESERVERS": [],
    "RDNS_TIMEOUT": 2.0,
    "RDNS_CACHE_SIZE": 4096,
    "RDNS_CACHE_TTL": 3600,  # seconds a name (or the lack of one) is remembered
    "RDNS_QUEUE_SIZE": 256,  # lookups waiting per process; more are dropped
    "RDNS_THREADS": 2,  # lookups running at once per process
    "VISIT_FLUSH_INTERVAL": 0.05,  # seconds between batches moved from the spool
    "VISIT_FLUSH_MAX_INTERVAL": 1.0,  # the longest wait under load (larger, fewer batches)
}


def init_app(app):
    config = app.config
    app.extensions["webshop.retired_visitors"] = RetiredVisitors(spool_dir(app))
    identity.init_app(app)  # g.client_ip and g.visitor_id, right after consent

    resolver = None
    if config["RDNS_ENABLED"]:
        resolver = DomainResolver(
            config["RDNS_NAMESERVERS"],
            timeout=config["RDNS_TIMEOUT"],
            cache_size=config["RDNS_CACHE_SIZE"],
            cache_ttl=config["RDNS_CACHE_TTL"],
            queue_size=config["RDNS_QUEUE_SIZE"],
            threads=config["RDNS_THREADS"],
        )
        app.extensions["webshop.resolver"] = resolver
        app.extensions["webshop.domain_lookup"] = resolver.cached

    if config["VISITS_ENABLED"]:
        writer = VisitWriter(
            app,
            spool_dir(app),
            interval=config["VISIT_FLUSH_INTERVAL"],
            max_interval=config["VISIT_FLUSH_MAX_INTERVAL"],
            domain_for=resolver.cached if resolver else None,
        )
        app.extensions["webshop.visit_writer"] = writer
        if resolver:

            def fill(ip, domain, confirmed):
                since = utcnow() - timedelta(seconds=FILL_WINDOW_SECONDS)
                writer.fill_domain(ip, domain, confirmed, since)
                fill_submission_domain(app, ip, domain, confirmed, since)

            resolver.listeners.append(fill)

    record.init_app(app)  # the visit clock; the row in teardown
    app.register_blueprint(routes.bp)
    app.cli.add_command(cli.visits_group)


def shutdown(app) -> None:
    """Stop the writer thread after storing everything (gunicorn ``worker_exit``)."""
    writer = app.extensions.get("webshop.visit_writer")
    if writer is not None:
        writer.stop()
