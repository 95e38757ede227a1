"""The applicant's pages: email link, notes and consent, form, documents, submission."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
