"""Configuration: defaults, then ``instance/config.py``, then ``FLASK_*`` variables.

The defaults are the core's (:data:`DEFAULTS`) and each feature's own, a
``CONFIG`` beside its views. A test's configuration replaces the instance
file and the environment rather than adding to them, so a variable set in a
developer's shell cannot change what a test sees.

There is no built-in secret key. When none is configured, one is generated
into ``instance/secret_key`` (mode 0600) on first start and reused after.
"""

import secrets
from pathlib import Path
from urllib.parse import urlsplit

from .private_files import claim_private_file


class ConfigError(RuntimeError):
    """A configuration value is unusable; the message says which and why."""


DEFAULTS = {
    # The store, as named on every page and in every receipt.
    "STORE_NAME": "Voltage & Vine Electronics",
    "STORE_EMAIL": "privacy@voltage-vine.example",
    "STORE_ADDRESS": "12 Loopback Lane, Localhost 12700, Example Republic",
    "STORE_PHONE": "+1 555 0100",
    # Keys. SECRET_KEY has no default on purpose (see load_secret_key).
    "SECRET_KEY_FALLBACKS": [],
    # The Ed25519 key receipts are signed with (None: instance/receipt-signing-key.pem,
    # generated on first start), and PEM files of earlier keys still published.
    "RECEIPT_SIGNING_KEY_FILE": None,
    "RECEIPT_RETIRED_KEY_FILES": [],
    # Database: SQLite in instance/ unless a URI is given.
    "SQLALCHEMY_DATABASE_URI": None,
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "SQLITE_BUSY_TIMEOUT_MS": 10_000,
    # Cookies and request limits.
    "SESSION_COOKIE_NAME": "session",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PREFERRED_URL_SCHEME": "http",
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "MAX_FORM_MEMORY_SIZE": 64 * 1024,
    "MAX_FORM_PARTS": 200,
    # Cookie lifetimes in days, as the cookie registry (cookies.py) names them.
    "CART_MAX_AGE_DAYS": 30,
    "CONSENT_MAX_AGE_DAYS": 365,
    "VISITOR_MAX_AGE_DAYS": 365,
    "STAFF_DEVICE_MAX_AGE_DAYS": 90,
    # Forms.
    "WTF_CSRF_TIME_LIMIT": 4 * 3600,
    # Proxies in front of the app; 0 means remote_addr is the client. Only
    # behind them do X-Forwarded-For, -Proto and -Host count.
    "TRUSTED_PROXIES": 0,
    # The address customers use, e.g. "https://shop.example.org": every link in
    # mail is built from it, and its host name is served. None: links use the
    # request's (trusted) Host.
    "PUBLIC_URL": None,
    # Further host names served besides 127.0.0.1, localhost and PUBLIC_URL's
    # host (".example.org" also serves every subdomain). Any other Host gets 400.
    "TRUSTED_HOSTS": [],
    # Mail: a Maildir outbox in instance/ unless MAIL_SERVER is set.
    "MAIL_SERVER": None,
    "MAIL_PORT": 25,
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_TIMEOUT": 10,
    # Logging: "text" or "json".
    "LOG_FORMAT": "text",
    "LOG_LEVEL": "INFO",
}

SECRET_KEY_FILE = "secret_key"
# Host names always served: the machine itself, for health checks and local use.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


def load(app, test_config: dict | None, *feature_defaults: dict) -> None:
    """Configure ``app``: the core's defaults and each feature's, then the instance file and the
    ``FLASK_*`` environment, or ``test_config`` instead of those two; then check the result."""
    declared = dict(DEFAULTS)
    for defaults in feature_defaults:
        if twice := declared.keys() & defaults.keys():
            raise ConfigError(f"settings declared twice: {', '.join(sorted(twice))}")
        declared.update(defaults)
    app.config.from_mapping(declared)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env()
    else:
        app.config.from_mapping(test_config)
    finish(app)


def load_secret_key(instance_path: str) -> str:
    """Return the secret key stored in the instance folder, creating it once.

    A new key is written in full to a private temporary file (mode 0600)
    and then hard-linked into place. The link is atomic and fails if the
    key file exists, so a worker starting at the same moment either finds
    no file or a complete one, never an empty one, and every worker ends up
    reading the one key that was linked first.
    """
    path = Path(instance_path) / SECRET_KEY_FILE
    if not path.exists():
        claim_secret_key(path)
    key = path.read_text().strip()
    if not key:
        raise ConfigError(f"{path} is empty; delete it to generate a new key")
    return key


def claim_secret_key(path: Path) -> None:
    """Put a new key at ``path`` unless another process already did."""
    claim_private_file(path, secrets.token_urlsafe(48).encode())


def public_url(value) -> str | None:
    """``PUBLIC_URL`` checked and without a trailing slash: a scheme and a host, nothing else."""
    if value is None or value == "":
        return None
    example = "e.g. FLASK_PUBLIC_URL=https://shop.example.org"
    if not isinstance(value, str):
        raise ConfigError(f"PUBLIC_URL must be a URL such as https://shop.example.org; got {type(value).__name__}")
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        raise ConfigError(f"PUBLIC_URL is not a URL ({example}); got {value!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"PUBLIC_URL needs http:// or https:// and a host name ({example}); got {value!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"PUBLIC_URL must not carry a user name or password; got {value!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(
            f"PUBLIC_URL is the shop's address without a path, query or fragment ({example}); got {value!r}"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def trusted_hosts(config) -> list[str]:
    """The host names served: loopback, ``PUBLIC_URL``'s host, then ``TRUSTED_HOSTS``."""
    extra = config.get("TRUSTED_HOSTS") or []
    if isinstance(extra, str) or not all(isinstance(name, str) and name for name in extra):
        raise ConfigError(
            "TRUSTED_HOSTS must be a list of host names, e.g. FLASK_TRUSTED_HOSTS='[\"shop.example.org\"]'"
        )
    names = list(LOOPBACK_HOSTS)
    if config.get("PUBLIC_URL"):
        names.append(urlsplit(config["PUBLIC_URL"]).hostname)
    names.extend(name.strip().lower() for name in extra)
    return list(dict.fromkeys(names))


def finish(app) -> None:
    """Fill in derived values and reject unusable ones with a clear message."""
    config = app.config
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = load_secret_key(app.instance_path)

    fallbacks = config.get("SECRET_KEY_FALLBACKS")
    if fallbacks is None:
        config["SECRET_KEY_FALLBACKS"] = []
    elif not isinstance(fallbacks, list) or not all(isinstance(key, str) and key for key in fallbacks):
        raise ConfigError(
            "SECRET_KEY_FALLBACKS must be a list of old keys, e.g. "
            "FLASK_SECRET_KEY_FALLBACKS='[\"old-key\"]'; got "
            f"{type(fallbacks).__name__}"
        )

    if not config.get("WTF_CSRF_SECRET_KEY"):
        # Flask-WTF signs form tokens with this alone; as a list (newest last)
        # it also accepts forms opened before a key rotation, like the session.
        config["WTF_CSRF_SECRET_KEY"] = [*config["SECRET_KEY_FALLBACKS"], config["SECRET_KEY"]]

    if not config.get("SQLALCHEMY_DATABASE_URI"):
        db_path = Path(app.instance_path) / "webshop.sqlite3"
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{db_path}"

    for name in ("TRUSTED_PROXIES", "VISIT_RETENTION_DAYS", "IP_RETENTION_DAYS"):
        try:
            value = int(config[name])
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a whole number; got {config[name]!r}") from None
        if value < 0:
            raise ConfigError(f"{name} must not be negative; got {value}")
        config[name] = value

    nameservers = config.get("RDNS_NAMESERVERS") or []
    if isinstance(nameservers, str):
        raise ConfigError(
            "RDNS_NAMESERVERS must be a list of host:port strings, e.g. FLASK_RDNS_NAMESERVERS='[\"127.0.0.1:5353\"]'"
        )
    config["RDNS_NAMESERVERS"] = list(nameservers)

    config["PUBLIC_URL"] = public_url(config.get("PUBLIC_URL"))
    config["TRUSTED_HOSTS"] = trusted_hosts(config)

    # Database errors then name the statement but not its values (what a
    # visitor typed, a link token), so tracebacks in the log carry neither.
    options = config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}
    config["SQLALCHEMY_ENGINE_OPTIONS"] = {"hide_parameters": True, **options}
