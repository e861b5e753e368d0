"""Two shops behind nginx, as docs/operations.md "Several hosts" sets them up, for tests and the soak.

Each host is its own gunicorn with its own ``instance/`` folder (its own
visit spool, caches and outbox). They share what the guide says to share:
one database (PostgreSQL), one Redis for the rate limits, one mail relay,
the same ``SECRET_KEY``, the same receipt signing key file and the same
``PUBLIC_URL``. nginx runs deploy/nginx.conf with the upstream of
deploy/nginx-two-hosts.conf, so requests alternate between the hosts.
"""

import secrets
from pathlib import Path

from tests.support.gunicorn import GunicornServer
from tests.support.http_client import Browser
from tests.support.nginx import HOST, Nginx, render_site
from tests.support.ports import free_port
from webshop.private_files import claim_private_file
from webshop.receipt_signatures import new_key_pem

PUBLIC_URL = f"http://{HOST}"


def shared_settings(folder: Path, database_uri: str, redis_url: str) -> dict:
    """The settings every host gets: generated once, here, and given to both."""
    key_file = folder / "shared" / "receipt-signing-key.pem"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    claim_private_file(key_file, new_key_pem())
    return {
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "RATELIMIT_STORAGE_URI": redis_url,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "RECEIPT_SIGNING_KEY_FILE": str(key_file),
        "PUBLIC_URL": PUBLIC_URL,
        "TRUSTED_PROXIES": 1,  # nginx
        "RDNS_ENABLED": False,
    }


class TwoHosts:
    """Host A and host B, each a gunicorn with ``workers`` workers, and nginx in front of both."""

    def __init__(self, folder: Path, settings: dict, workers: int = 2):
        self.folder = Path(folder)
        self.settings = settings
        self.hosts = [
            GunicornServer(self.folder / name / "instance", settings, workers=workers) for name in ("host-a", "host-b")
        ]
        self.port = free_port()
        self.nginx = None

    @property
    def url(self) -> str:
        """nginx's address; send ``Host: shop.example.org`` (``browser()`` does)."""
        return f"http://127.0.0.1:{self.port}"

    def browser(self) -> Browser:
        return Browser(self.url, host=HOST)

    def start(self) -> "TwoHosts":
        try:
            for host in self.hosts:  # both boot at once, as two machines would
                host.launch()
            for host in self.hosts:
                host.wait_ready()
            site = render_site(self.port, *(host.port for host in self.hosts))
            self.nginx = Nginx(self.folder / "nginx", site).start(self.port)
        except BaseException:
            self.stop()
            raise
        return self

    def drain(self, host: GunicornServer) -> None:
        """Take ``host`` out of nginx's upstream (``down``) and reload nginx, as before a planned stop."""
        site = render_site(self.port, *(h.port for h in self.hosts))
        site = site.replace(f"server 127.0.0.1:{host.port} ", f"server 127.0.0.1:{host.port} down ")
        self.nginx.reload(site)

    def stop(self) -> None:
        """nginx first, then each host gracefully (SIGTERM), as an operator takes the site down."""
        if self.nginx:
            self.nginx.stop()
        for host in self.hosts:
            host.terminate()
        for host in self.hosts:
            host.wait_stopped()

    def access_lines(self, host: GunicornServer, needle: str) -> int:
        """How many of ``host``'s access-log lines mention ``needle``."""
        if not host.log.exists():
            return 0
        return sum(needle in line for line in host.log.read_text(errors="replace").splitlines())
