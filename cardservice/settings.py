"""Settings from the environment (``CARDSERVICE_*``) plus the library profile.

Settings are read once, validated, and frozen. Nothing here touches the disk beyond reading
the profile; secrets that are generated on first start live in ``security/secrets.py``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from msgspec import Struct

from cardservice.errors import ConfigurationError
from cardservice.profiles import Profile, load_profile

Mode = Literal["dev", "production"]
PREFIX = "CARDSERVICE_"

# The longest overlap of a key rotation (CARDSERVICE_KEY_OVERLAP_HOURS, ``keys rotate
# --overlap-hours``): a year. The overlap only has to outlast verifiers' JWKS caches (minutes
# to a day); a longer one would keep a key signing that the operator meant to replace, and
# past a few thousand years the dates no longer exist (a traceback, not a rotation).
KEY_OVERLAP_HOURS_MAX = 8760
# Connections per process: far above any PostgreSQL max_connections a library runs.
DB_POOL_MAX = 1000
# Seconds a request may wait for a connection before it gets 503: an hour at most.
DB_POOL_TIMEOUT_MAX = 3600.0


class Settings(Struct, frozen=True, kw_only=True):
    mode: Mode = "dev"
    data_dir: Path
    database_url: str
    # The public address. Unset, it follows host and port (``local_base_url``), so that
    # links, the card page and the token issuer name the port this instance listens on.
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    profile: Profile
    # smtp://user:pass@host:port or smtps://...; empty in dev means the built-in mail catcher.
    smtp_url: str = ""
    # The dev mail catcher's port; 0 (the default) takes a free one (mail/background.py).
    mail_catcher_port: int = 0
    # Comma-separated PEM files; empty means a keyring generated into the data directory.
    signing_key_files: tuple[Path, ...] = ()
    token_issuer: str = ""
    token_audience: str = "library-card"  # noqa: S105  # an audience name, not a secret
    key_overlap_hours: int = 24
    # Base64 secrets; empty means generated on first start into the data directory (0600).
    secret_key: str = ""
    document_key: str = ""
    log_level: str = "INFO"
    # The database pool of each process: connections kept open, extra ones allowed in a
    # burst, and the seconds a request waits for one before it is answered 503.
    db_pool_size: int = 10
    db_max_overflow: int = 20
    db_pool_timeout: float = 10.0
    # How old each process's copy of the active API keys may be: a revoked key stops working
    # everywhere within this many seconds (security/apikeys.py). 0 reads them on every request.
    api_key_recheck_seconds: int = 5
    # Google Wallet (passes/google.py): the issuer id from the Google Pay & Wallet Console and
    # the service account's JSON key file. Both set: the card page offers "Save to Google
    # Wallet"; neither: it says nothing of it.
    google_wallet_issuer_id: str = ""
    google_wallet_key_file: Path | None = None
    # Apple Wallet (passes/apple.py, cardservice/passkit): the pass type id and team id from
    # Apple's developer account, the pass type certificate and its key (PEM; the key's
    # password if it has one) and Apple's WWDR intermediate certificate. All set: the card
    # page offers the pass (``apple_passes_configured``); none: it says nothing of it.
    apple_pass_type_id: str = ""
    apple_team_id: str = ""
    apple_pass_certificate: Path | None = None
    apple_pass_key: Path | None = None
    apple_pass_key_password: str = ""
    apple_wwdr_certificate: Path | None = None
    # A directory whose icon.png, logo.png (and their @2x, @3x) replace the shipped images.
    apple_pass_images: Path | None = None
    # APNs token authentication (the .p8 key and its key id) for pass update pushes; unset,
    # passes are still updated when Wallet asks, only not pushed.
    apns_key_file: Path | None = None
    apns_key_id: str = ""
    apns_host: str = "api.push.apple.com"

    @property
    def production(self) -> bool:
        return self.mode == "production"

    @property
    def issuer(self) -> str:
        return self.token_issuer or self.base_url.rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read ``CARDSERVICE_*`` variables; ``overrides`` win (tests and the CLI use them)."""
        source = os.environ if env is None else env

        def get(name: str, default: str = "") -> str:
            return source.get(PREFIX + name, default).strip()

        mode = get("MODE", "dev")
        if mode not in ("dev", "production"):
            raise ConfigurationError(PREFIX + "MODE", f"must be dev or production, not {mode!r}")
        data_dir = Path(get("DATA_DIR", ".data")).expanduser().resolve()
        values: dict[str, object] = {
            "mode": mode,
            "data_dir": data_dir,
            "database_url": get("DATABASE_URL") or _sqlite_url(data_dir / "cardservice.db"),
            "base_url": get("BASE_URL").rstrip("/"),
            "host": get("HOST", "127.0.0.1"),
            "port": _int(get, "PORT", 8000),
            "workers": _int(get, "WORKERS", 1),
            "smtp_url": get("SMTP_URL"),
            "mail_catcher_port": _int(get, "MAIL_CATCHER_PORT", 0),
            "signing_key_files": tuple(
                Path(p.strip()) for p in get("SIGNING_KEY_FILES").split(",") if p.strip()
            ),
            "token_issuer": get("TOKEN_ISSUER"),
            "token_audience": get("TOKEN_AUDIENCE", "library-card"),
            "key_overlap_hours": _int(get, "KEY_OVERLAP_HOURS", 24),
            "secret_key": get("SECRET_KEY"),
            "document_key": get("DOCUMENT_KEY"),
            "log_level": get("LOG_LEVEL", "INFO").upper(),
            "db_pool_size": _int(get, "DB_POOL_SIZE", 10),
            "db_max_overflow": _int(get, "DB_MAX_OVERFLOW", 20),
            "db_pool_timeout": _seconds(get, "DB_POOL_TIMEOUT", 10.0),
            "api_key_recheck_seconds": _int(get, "API_KEY_RECHECK_SECONDS", 5),
            "google_wallet_issuer_id": get("GOOGLE_WALLET_ISSUER_ID"),
            "google_wallet_key_file": Path(get("GOOGLE_WALLET_KEY_FILE"))
            if get("GOOGLE_WALLET_KEY_FILE")
            else None,
            "apple_pass_type_id": get("APPLE_PASS_TYPE_ID"),
            "apple_team_id": get("APPLE_TEAM_ID"),
            "apple_pass_certificate": _path(get, "APPLE_PASS_CERTIFICATE"),
            "apple_pass_key": _path(get, "APPLE_PASS_KEY"),
            "apple_pass_key_password": get("APPLE_PASS_KEY_PASSWORD"),
            "apple_wwdr_certificate": _path(get, "APPLE_WWDR_CERTIFICATE"),
            "apple_pass_images": _path(get, "APPLE_PASS_IMAGES"),
            "apns_key_file": _path(get, "APNS_KEY_FILE"),
            "apns_key_id": get("APNS_KEY_ID"),
            "apns_host": get("APNS_HOST", "api.push.apple.com"),
        }
        values.update(overrides)
        if not values["base_url"]:
            values["base_url"] = local_base_url(str(values["host"]), int(str(values["port"])))
        if "profile" not in overrides:
            values["profile"] = load_profile(get("PROFILE", "example"))
        settings = cls(**values)  # type: ignore[arg-type]  # keys checked by Struct itself
        settings.check()
        return settings

    def check(self) -> None:
        url = urlsplit(self.database_url)
        if url.scheme not in ("sqlite+aiosqlite", "postgresql+asyncpg", "postgresql"):
            raise ConfigurationError(
                PREFIX + "DATABASE_URL",
                "use sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db",
            )
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigurationError(PREFIX + "BASE_URL", "must start with http:// or https://")
        if self.production and not self.base_url.startswith("https://"):
            raise ConfigurationError(PREFIX + "BASE_URL", "must be https:// in production mode")
        if self.production and not self.smtp_url:
            raise ConfigurationError(PREFIX + "SMTP_URL", "is required in production mode")
        if not 1 <= self.workers <= 64:
            raise ConfigurationError(PREFIX + "WORKERS", "must be between 1 and 64")
        if not 1 <= self.port <= 65535:
            raise ConfigurationError(PREFIX + "PORT", "must be between 1 and 65535")
        if not 0 <= self.mail_catcher_port <= 65535:
            raise ConfigurationError(
                PREFIX + "MAIL_CATCHER_PORT", "must be between 0 (a free port) and 65535"
            )
        if not 0 <= self.key_overlap_hours <= KEY_OVERLAP_HOURS_MAX:
            raise ConfigurationError(
                PREFIX + "KEY_OVERLAP_HOURS", f"must be between 0 and {KEY_OVERLAP_HOURS_MAX}"
            )
        if not 1 <= self.db_pool_size <= DB_POOL_MAX:
            raise ConfigurationError(
                PREFIX + "DB_POOL_SIZE", f"must be between 1 and {DB_POOL_MAX}"
            )
        if not 0 <= self.db_max_overflow <= DB_POOL_MAX:
            raise ConfigurationError(
                PREFIX + "DB_MAX_OVERFLOW", f"must be between 0 and {DB_POOL_MAX}"
            )
        if not 0 < self.db_pool_timeout <= DB_POOL_TIMEOUT_MAX:
            raise ConfigurationError(
                PREFIX + "DB_POOL_TIMEOUT",
                f"must be more than 0 and at most {DB_POOL_TIMEOUT_MAX:g} seconds",
            )
        self._check_google_wallet()
        self._check_apple_wallet()
        if not 0 <= self.api_key_recheck_seconds <= 300:
            raise ConfigurationError(
                PREFIX + "API_KEY_RECHECK_SECONDS", "must be between 0 and 300"
            )

    def _check_google_wallet(self) -> None:
        if bool(self.google_wallet_issuer_id) != (self.google_wallet_key_file is not None):
            raise ConfigurationError(
                PREFIX + "GOOGLE_WALLET_ISSUER_ID",
                "set it together with CARDSERVICE_GOOGLE_WALLET_KEY_FILE, or neither",
            )
        if self.google_wallet_issuer_id and not self.google_wallet_issuer_id.isdigit():
            raise ConfigurationError(
                PREFIX + "GOOGLE_WALLET_ISSUER_ID", "must be the console's issuer id (digits)"
            )

    @property
    def apple_passes_configured(self) -> bool:
        """Whether Apple Wallet passes are offered: the pass type id, the team id, the
        pass certificate, its key and the WWDR certificate are all set."""
        return all(self._apple_parts().values())

    def _apple_parts(self) -> dict[str, object]:
        return {
            "APPLE_PASS_TYPE_ID": self.apple_pass_type_id,
            "APPLE_TEAM_ID": self.apple_team_id,
            "APPLE_PASS_CERTIFICATE": self.apple_pass_certificate,
            "APPLE_PASS_KEY": self.apple_pass_key,
            "APPLE_WWDR_CERTIFICATE": self.apple_wwdr_certificate,
        }

    def _check_apple_wallet(self) -> None:
        parts = self._apple_parts()
        missing = [name for name, value in parts.items() if not value]
        if missing and len(missing) < len(parts):
            raise ConfigurationError(
                PREFIX + missing[0],
                "Apple Wallet needs all of "
                + ", ".join(PREFIX + name for name in parts)
                + ", or none",
            )
        if bool(self.apns_key_file) != bool(self.apns_key_id):
            raise ConfigurationError(
                PREFIX + "APNS_KEY_ID", "set it together with CARDSERVICE_APNS_KEY_FILE, or neither"
            )
        if self.apns_key_file and not self.apple_passes_configured:
            raise ConfigurationError(
                PREFIX + "APNS_KEY_FILE", "pushes pass updates: configure Apple Wallet first"
            )
        if not re.fullmatch(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?", self.apns_host):
            raise ConfigurationError(
                PREFIX + "APNS_HOST",
                "a host name (api.push.apple.com or api.sandbox.push.apple.com), no https://",
            )

    @property
    def async_database_url(self) -> str:
        """The URL with the async driver named, whichever form was configured."""
        if self.database_url.startswith("postgresql://"):
            return "postgresql+asyncpg://" + self.database_url.removeprefix("postgresql://")
        return self.database_url


def local_base_url(host: str, port: int) -> str:
    """``http://host:port`` for a server listening on ``host``: the base URL when
    CARDSERVICE_BASE_URL is not set. A wildcard address (``0.0.0.0``, ``::``) is not one a
    browser can open, so it becomes the loopback address; an IPv6 address gets brackets."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104  # recognising the wildcard, not binding
        host = "127.0.0.1" if host != "::" else "::1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _path(get: Callable[[str, str], str], name: str) -> Path | None:
    raw = get(name, "")
    return Path(raw).expanduser() if raw else None


def _int(get: Callable[[str, str], str], name: str, default: int) -> int:
    raw = get(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(PREFIX + name, f"must be a whole number, not {raw!r}") from None


def _seconds(get: Callable[[str, str], str], name: str, default: float) -> float:
    raw = get(name, str(default))
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(PREFIX + name, f"must be seconds, not {raw!r}") from None
