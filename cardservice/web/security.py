"""Browser-facing security: the session cookie, CSRF protection and security headers.

Both cookies' keys are derived from the one session secret (``app_secrets``) with distinct
labels, so a CSRF token can never be replayed as a session and the other way round. In
production the cookies carry the ``__Host-`` prefix: the browser then insists on Secure,
Path=/ and no Domain, so a sibling subdomain cannot plant them.

The headers go on through a ``before_send`` hook rather than a route middleware: the hook
also sees the answers Litestar gives before any route matches (404, 405).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Final

from litestar.config.csrf import CSRFConfig
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.status_codes import HTTP_429_TOO_MANY_REQUESTS
from litestar.types import Message, Scope

from cardservice.security.secrets import AppSecrets, derive_key
from cardservice.settings import Settings

# Staff sign in again after a working day; the server checks the age too (see ``staff.py``).
SESSION_MAX_AGE: Final = 12 * 60 * 60
API_PATTERN: Final = "^/api/"
CSRF_FORM_FIELD: Final = "_csrf_token"

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# The API docs are Swagger UI from the package's static files (``web/openapi.py``): scripts
# from this origin only, as every page; its widgets set inline styles.
DOCS_CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
DOCS_PATH: Final = "/api/docs"
NO_STORE_API: Final = "/api/v1/verify"
PERMISSIONS_POLICY: Final = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
HSTS: Final = "max-age=63072000"


def login_fresh(logged_in_at: object) -> bool:
    """Whether a login made at ``logged_in_at`` (a Unix time in the session) still holds."""
    if not isinstance(logged_in_at, int) or isinstance(logged_in_at, bool):
        return False
    return 0 <= time.time() - logged_in_at <= SESSION_MAX_AGE


def _cookie_name(settings: Settings, name: str) -> str:
    return f"__Host-{name}" if settings.production else name


# The ``opt`` of a public, cacheable GET route (``Cache-Control: public``): the session and
# CSRF middlewares neither read nor set a cookie on it, so a shared cache can never keep
# one patron's session cookie (or CSRF token) with the response and hand it to another.
NO_COOKIES: Final = {"skip_session": True, "exclude_from_csrf": True}


def session_cookie_name(settings: Settings) -> str:
    return _cookie_name(settings, "session")


def csrf_cookie_name(settings: Settings) -> str:
    return _cookie_name(settings, "csrftoken")


def session_config(settings: Settings, secrets: AppSecrets) -> CookieBackendConfig:
    """An encrypted (AES-GCM) cookie session; API calls carry keys, not sessions."""
    return CookieBackendConfig(
        secret=derive_key(secrets, "session-cookie"),
        key=session_cookie_name(settings),
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=settings.production,
        exclude=[API_PATTERN, "^/static/"],
    )


def csrf_config(settings: Settings, secrets: AppSecrets) -> CSRFConfig:
    """Double-submit tokens, signed, on every unsafe request outside the API."""
    return CSRFConfig(
        secret=derive_key(secrets, "csrf").hex(),
        cookie_name=csrf_cookie_name(settings),
        cookie_secure=settings.production,
        cookie_httponly=True,  # the token travels in the form; scripts never need it
        cookie_samesite="lax",
        exclude=[API_PATTERN, "^/static/"],  # public and cached, as for the session
    )


def _encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


LIMITED_RETRY_AFTER_SECONDS = 60


def security_headers(settings: Settings) -> Callable[[Message, Scope], Awaitable[None]]:
    """A ``before_send`` hook adding the headers every response carries.

    A response that sets one of these headers itself keeps its own value (the caught-mail
    HTML view sets a sandboxing policy, for example). Every 429, whichever limit gave it,
    says when to try again (``Retry-After``, seconds).
    """
    common = {
        "x-content-type-options": "nosniff",
        # Pages opened from email links carry one-time tokens in their URLs.
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
        "permissions-policy": PERMISSIONS_POLICY,
        "cross-origin-opener-policy": "same-origin",
    }
    if settings.production:
        common["strict-transport-security"] = HSTS
    # Worked out once: this runs on every response, the counter API's hot path included.
    for_site = _encoded({**common, "content-security-policy": CONTENT_SECURITY_POLICY})
    for_docs = _encoded({**common, "content-security-policy": DOCS_CONTENT_SECURITY_POLICY})
    no_store = _encoded({"cache-control": "no-store"})
    # Limits here are sliding estimates that give one attempt back within a minute or so
    # (e.g. 20 per 15 minutes: one every 45 s); RFC 6585 lets a 429 say when to retry.
    retry_after = _encoded({"retry-after": str(LIMITED_RETRY_AFTER_SECONDS)})

    async def add_security_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = list(message.get("headers") or [])
        present = {name.lower() for name, _ in headers}
        path: str = scope.get("path", "")
        docs = path == DOCS_PATH or path.startswith(DOCS_PATH + "/")
        wanted = for_docs if docs else for_site
        content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
        if content_type.startswith(b"text/html") or path.startswith(NO_STORE_API):
            # Pages hold personal data and tokens, verify answers a card's state at one
            # moment (errors too): no shared or back-button caches.
            wanted = wanted + no_store
        if message["status"] == HTTP_429_TOO_MANY_REQUESTS:
            wanted = wanted + retry_after
        headers.extend(header for header in wanted if header[0] not in present)
        message["headers"] = headers

    return add_security_headers
