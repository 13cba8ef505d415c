"""Configuration: defaults, then the instance file, then ``JEJAK_*`` environment variables.

Every key is documented in docs/configuration.md (a test holds the two together).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

# key -> (default, type, one-line description used by docs and `jejak-server config`)
SETTINGS = {
    "DATABASE_URL": (None, str, "SQLAlchemy URL; default sqlite:///<instance>/jejak.sqlite3"),
    "READ_DATABASE_URL": (None, str, "PostgreSQL URL of a streaming replica for dashboards, exports, progress and observers' API reads; unset: all reads on DATABASE_URL"),
    "READ_MAX_LAG_SECONDS": (30, int, "a replica further behind than this is not read: the primary answers (the page says so)"),
    "DATABASE_TRANSACTION_POOLING": (False, bool, "the database URLs lead to pgbouncer in transaction pooling: no server-side prepared statements"),
    "SECRET_KEY": (None, str, "signs session cookies and CSRF tokens; generated into the instance folder when unset"),
    "PAGE_SIZE": (200, int, "rows per page of list endpoints and pages"),
    "MAX_BATCH": (5000, int, "most scans accepted in one POST /api/v1/scans"),
    "MAX_CONTENT_LENGTH": (16 * 1024 * 1024, int, "largest request body in bytes (413 above it)"),
    "TOKEN_TTL_DAYS": (90, int, "days until a token made by create-token / create-device expires (0: never)"),
    "RATE_LIMIT_PER_MINUTE": (600, int, "requests per minute per API token (0: no limit)"),
    "CLOCK_SKEW_MINUTES": (10, int, "device clocks further ahead of the server than this are flagged"),
    "BABEL_DEFAULT_LOCALE": ("id", str, "dashboard language when the user has not chosen one (id or en)"),
    "SQL_ECHO": (False, bool, "log every SQL statement (debugging only)"),
    "LABEL_KEY_FILE": (None, str, "private key (PEM) the dashboard's Labels page signs labels with; unset: printing is off"),
    "DISPLAY_TIMEZONE": ("Asia/Jakarta", str, "IANA time zone the dashboard, exports and BAST show times in (WIB Asia/Jakarta, WITA Asia/Makassar, WIT Asia/Jayapura); storage stays UTC"),
    "DASHBOARD_AS_OF": (None, str, "ISO instant the dashboard judges deadlines at by default (unset: now; the demo's own 'now' for a demo instance)"),
    "LEDGER_KEY_FILE": (None, str, "Ed25519 PEM key that signs ledger checkpoints; generated into <instance>/ledger_key.pem when unset"),
    "LEDGER_CHECKPOINT_EVERY": (10000, int, "sign the ledger head every this many entries (0: only on `jejak-server checkpoint`)"),
    "PREFERRED_URL_SCHEME": ("http", str, "https: session cookies are sent only over HTTPS (Secure) and external links use https"),
    "TRUSTED_PROXIES": (0, int, "reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are believed (0: none)"),
    "LOGIN_MAX_FAILURES": (10, int, "failed logins per username in 15 minutes before its logins are refused (429)"),
    "LOGIN_MAX_FAILURES_PER_ADDRESS": (50, int, "failed logins per client address in 15 minutes before its logins are refused (429)"),
    "PHOTO_DIR": (None, str, "where photos attached to scans are kept (originals by SHA-256 and display copies); default <instance>/photos"),
    "PHOTO_MAX_BYTES": (10 * 1024 * 1024, int, "largest photo accepted by POST /api/v1/scans/<scan id>/photos, in bytes (413 above it)"),
    "PHOTO_MAX_PIXELS": (40_000_000, int, "most pixels (width x height) a photo may have (413 above it: decompression bombs are refused before decoding)"),
    "MAX_NEW_ANOMALIES_PER_BATCH": (200, int, "most label anomalies one POST /api/v1/scans may open (422 above it; scanners then send smaller batches)"),
}

TRUE = {"1", "true", "yes", "on"}


def _coerce(key: str, value, kind):
    if kind is bool and isinstance(value, str):
        return value.strip().lower() in TRUE
    if kind is int and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"JEJAK_{key}={value!r} is not a whole number") from None
    return value


def load(app, test_config: dict | None = None) -> None:
    """Fill app.config from defaults, instance/config.py, JEJAK_* variables and test_config."""
    for key, (default, _kind, _doc) in SETTINGS.items():
        # Not setdefault: Flask defines some of these itself (MAX_CONTENT_LENGTH as None,
        # PREFERRED_URL_SCHEME), and its value must not hide ours.
        app.config[key] = default
    app.config.from_pyfile("config.py", silent=True)
    for key, (_default, kind, _doc) in SETTINGS.items():
        env = os.environ.get("JEJAK_" + key)
        if env is not None:
            app.config[key] = _coerce(key, env, kind)
    if test_config:
        app.config.update(test_config)
    instance = Path(app.instance_path)
    if not app.config.get("DATABASE_URL"):
        instance.mkdir(parents=True, exist_ok=True)
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'jejak.sqlite3'}"
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(instance)


def write_once(path: Path, make) -> None:
    """Create a secret file readable by its owner only, with make()'s bytes, unless it exists.

    Several workers may start at once: the first to create it wins, the others keep its bytes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another worker made it first
    with os.fdopen(fd, "wb") as fh:
        fh.write(make())


def _instance_secret(instance: Path) -> str:
    """Return the instance's persistent secret key, creating it once."""
    path = instance / "secret_key"
    write_once(path, lambda: secrets.token_urlsafe(48).encode("ascii"))
    return path.read_text().strip()


@dataclass(frozen=True)
class Rules:
    """The settings the domain packages judge and chain by, read from the app in one place.

    Every session a ``server.db.Database`` opens carries them (``rules_of``), so
    ingest, the sweep, reads and the ledger follow the configuration whoever
    calls them - the API, the dashboard or a command - without importing Flask.
    Outside an app (a bare Database) they are these defaults: no automatic
    checkpoints.
    """

    clock_skew_minutes: int = 10
    checkpoint_every: int = 0
    ledger_key_file: Path | None = None


RULES_KEY = "jejak.rules"


def ledger_key_path(app) -> Path:
    """Return the path of the app's ledger signing key (LEDGER_KEY_FILE or the instance's)."""
    configured = app.config.get("LEDGER_KEY_FILE")
    return Path(configured) if configured else Path(app.instance_path) / "ledger_key.pem"


def photo_dir(app) -> Path:
    """Return the directory of the app's photo store (PHOTO_DIR or the instance's photos/)."""
    configured = app.config.get("PHOTO_DIR")
    return Path(configured) if configured else Path(app.instance_path) / "photos"


def rules_for(app) -> Rules:
    """Return the Rules of an app's configuration."""
    every = int(app.config.get("LEDGER_CHECKPOINT_EVERY") or 0)
    return Rules(clock_skew_minutes=int(app.config["CLOCK_SKEW_MINUTES"]),
                 checkpoint_every=max(every, 0), ledger_key_file=ledger_key_path(app))


def rules_of(session) -> Rules:
    """Return the Rules a session was opened with (the defaults for a bare session)."""
    return session.info.get(RULES_KEY) or Rules()
