"""Typed access to the service container and the app's secrets from a request."""

from __future__ import annotations

from typing import Any, Final

from litestar import Request

from cardservice.security.secrets import AppSecrets
from cardservice.services import Services


def services(request: Request[Any, Any, Any]) -> Services:
    # By key, not by attribute: Litestar's State answers an attribute through __getattr__
    # after a failed lookup, several times slower, and every request asks for this.
    found: Services = request.app.state["services"]
    return found


def client_address(request: Request[Any, Any, Any]) -> str:
    """The client's IP address, as rate limits count it."""
    return request.client.host if request.client else "unknown"


def secrets(request: Request[Any, Any, Any]) -> AppSecrets:
    """The session and document keys, read once when the app was made."""
    found: AppSecrets = request.app.state["secrets"]
    return found


# Set in the scope of a HEAD request that the app answers as a GET (``app.CardService``).
HEAD_SCOPE_KEY: Final = "cardservice.head"


def is_head(request: Request[Any, Any, Any]) -> bool:
    """Whether the client sent HEAD (run as GET, the body dropped): a handler whose GET
    records something (an export's audit entry) skips it and the work for a HEAD."""
    return bool(request.scope.get(HEAD_SCOPE_KEY))
