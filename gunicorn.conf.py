"""gunicorn settings for webshop. Override with GUNICORN_* variables or flags."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Two sync workers measured fastest on a 2-core machine (see docs/operations.md, gunicorn).
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
# A sync worker is held by one connection from its first byte to its last, so
# as many slow clients as there are workers stall it; gthread only raises that
# to workers x threads. Whatever is reachable by others goes through nginx
# (deploy/nginx.conf), which reads whole requests before passing them on
# (bench/slow_clients.py measures all three).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = 30
graceful_timeout = 20
# No control socket under ~/.gunicorn: nothing is written outside the project.
control_socket_disable = True
accesslog = None  # the app writes its own access line, with the domain
wsgi_app = "wsgi:app"


def worker_exit(server, worker):
    """Store every visit row this worker spooled before it goes (graceful stop)."""
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        from webshop.visits import shutdown

        shutdown(app)
