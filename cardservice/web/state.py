"""Typed access to the service container and the app's secrets from a request."""

from __future__ import annotations

from typing import Any

from litestar import Request

from cardservice.security.secrets import AppSecrets
from cardservice.services import Services


def services(request: Request[Any, Any, Any]) -> Services:
    found: Services = request.app.state.services
    return found


def client_address(request: Request[Any, Any, Any]) -> str:
    """The client's IP address, as rate limits count it."""
    return request.client.host if request.client else "unknown"


def secrets(request: Request[Any, Any, Any]) -> AppSecrets:
    """The session and document keys, read once when the app was made."""
    found: AppSecrets = request.app.state.secrets
    return found
