"""The patron's page paths: the pages route them, and emails link to them."""

from __future__ import annotations

from typing import Final

LOGIN_PATH: Final = "/login"
LOGOUT_PATH: Final = "/logout"
CARD_PATH: Final = "/card"
MY_PATH: Final = "/my"
FORGOT_NUMBER_PATH: Final = "/forgot-number"
# Paths, not passwords.
FORGOT_PASSWORD_PATH: Final = "/password/forgot"  # noqa: S105
RESET_PATH: Final = "/password/reset"
PASSWORD_CHANGED_PATH: Final = "/password/changed"  # noqa: S105
EMAIL_VERIFY_PATH: Final = "/my/email/verify"


def link(base_url: str, path: str) -> str:
    """An absolute link for an email: the service's base URL and a page path."""
    return f"{base_url.rstrip('/')}{path}"
