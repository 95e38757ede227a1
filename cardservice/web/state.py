"""Typed access to the service container from a request."""

from __future__ import annotations

from typing import Any

from litestar import Request

from cardservice.services import Services


def services(request: Request[Any, Any, Any]) -> Services:
    found: Services = request.app.state.services
    return found
