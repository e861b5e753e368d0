"""The request hooks that record one visit row and one access-log line per request.

The row is written in ``teardown_request``, which Flask runs for every
request whatever happened in it, so a view that raises still leaves its
visit (with status 500 when nothing else answered). ``after_request`` only
notes the status and size of the response that was sent. Who asked (the
blocking signal, the IP, the visitor id) was decided by the consent and
identity hooks, which run before anything can refuse the request.
"""

import logging
import time

from flask import current_app, g, request

from ..models import PATH_MAX, QUERY_MAX, REFERRER_MAX, USER_AGENT_MAX
from ..shorten import stored_ip
from .rdns import NO_DOMAIN
from .redact import redact_path, redact_query, redact_url

access_log = logging.getLogger("webshop.access")

# Endpoints that are not page requests: files and the load balancer's probe.
NOT_RECORDED = frozenset({"static", "visits.healthz"})


def mark_start():
    g.visit_clock = time.perf_counter()
    g.visit_time = time.time()


def note_response(response):
    g.visit_status = response.status_code
    g.visit_bytes = response.content_length
    return response


def storable(text: str) -> str:
    """``text`` without NUL characters, which PostgreSQL cannot store in a text column."""
    return text.replace("\x00", "\ufffd")


def domain_of(ip: str | None) -> tuple[str | None, bool]:
    """The cached domain of ``ip``; a miss starts a background lookup."""
    resolver = current_app.extensions.get("webshop.resolver")
    if not ip or resolver is None:
        return NO_DOMAIN
    answer = resolver.cache.get(ip)
    if answer is None:
        resolver.request(ip)
        return NO_DOMAIN
    return answer


def finish_visit(error):
    """Record the visit and write the access line (teardown: runs for every request)."""
    if request.endpoint in NOT_RECORDED:
        return
    clock = g.get("visit_clock")
    elapsed_ms = (time.perf_counter() - clock) * 1000 if clock else 0.0
    status = 500 if error is not None else g.get("visit_status", 500)
    blocking, ip, visitor_id = bool(g.get("blocking_signal")), g.get("client_ip"), g.get("visitor_id")
    domain, confirmed = domain_of(ip)  # looked up by the full address, which is held in memory only
    ip = stored_ip(ip, current_app.config["IP_RETENTION_DAYS"])
    path = storable(redact_path(request.path))[:PATH_MAX]
    query = storable(redact_query(request.query_string.decode("latin-1")))[:QUERY_MAX]
    writer = current_app.extensions.get("webshop.visit_writer")
    if writer is not None:
        user_agent = request.headers.get("User-Agent")
        referrer = request.headers.get("Referer")
        writer.append(
            {
                "time": g.get("visit_time") or time.time(),
                "ip": ip,
                "domain": domain,
                "domain_confirmed": confirmed,
                "method": storable(request.method[:16]),
                "path": path,
                "query": query,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1")[:16],
                "status": status,
                "response_bytes": g.get("visit_bytes"),
                "response_ms": round(elapsed_ms, 3),
                "user_agent": storable(user_agent)[:USER_AGENT_MAX] if user_agent else None,
                "referrer": storable(redact_url(referrer))[:REFERRER_MAX] if referrer else None,
                "visitor_id": visitor_id,
                "blocking_signal": blocking,
            }
        )
    if access_log.isEnabledFor(logging.INFO):
        target = f"{path}?{query}" if query else path
        access_log.info(
            "%s %s %s %s %d %.1fms",
            domain or ip or "-",
            "gpc/dnt" if blocking else (ip or "-"),
            request.method[:16],
            target[:300],
            status,
            elapsed_ms,
            extra={
                "ip": ip,
                "domain": domain,
                "domain_confirmed": confirmed,
                "method": request.method[:16],
                "path": path[:300],
                "query": query[:300],
                "status": status,
                "response_ms": round(elapsed_ms, 1),
                "blocking_signal": blocking,
            },
        )


def init_app(app):
    # Registered before the hooks that can refuse a request (host, CSRF, the
    # database), so the clock runs for those requests too.
    app.before_request(mark_start)
    app.after_request(note_response)
    app.teardown_request(finish_visit)
