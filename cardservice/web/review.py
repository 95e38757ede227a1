"""Staff review pages: the queue, one application, and the decisions on it."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
