"""What the patron's pages say about an error: the domain raises codes, this picks the words
(in the page catalogs, ``patrons.po``), and a refused email link gets its own page.
"""

from __future__ import annotations

from typing import Final, Literal

from litestar.response import Template
from litestar.status_codes import HTTP_400_BAD_REQUEST

from cardservice.errors import DomainError
from cardservice.patrons.routes.common import AnyRequest
from cardservice.security import passwords
from cardservice.security.links import LinkInvalid
from cardservice.web.i18n import N_, language
from cardservice.web.pages import render, translate
from cardservice.web.state import services

# Too many emails asked for within the hour (an email change; recovery says nothing).
LIMITED: Final = "email_change_limited"

ERROR_TEXTS: Final[dict[str, str]] = {
    "patron_bad_credentials": N_("The current password is wrong."),
    "patron_login_limited": N_(
        "Too many wrong passwords. Please wait a while (about 15 minutes) and try again."
    ),
    "password_mismatch": N_("The two new passwords are not the same. Please type them again."),
    "mail_invalid_recipient": N_("Enter an email address, for example hanako@example.jp."),
    "email_unchanged": N_("This is already your email address. Enter the new address."),
    "email_too_long": N_("This email address is too long."),
    LIMITED: N_("You have asked for several links within the hour. Please try again later."),
    "birth_date_invalid": N_("Enter your date of birth as a real date, for example 1 April 1990."),
    "required": N_("Please fill this in."),
    "link_unknown": N_("This link is not known. Please check that you opened the whole link."),
    "link_wrong_purpose": N_(
        "This link is not known. Please check that you opened the whole link."
    ),
    "link_used": N_("This link has already been used. Each link works only once."),
    "link_expired": N_("This link has expired."),
}
# A bound link died because what it was bound to changed; the words depend on what that was.
SUPERSEDED: Final[dict[str, str]] = {
    "password": N_(
        "This link no longer works because the password has been changed since it was sent."
    ),
    "email": N_(
        "This link no longer works because the email address has been changed since it was sent."
    ),
}


def text_of(request: AnyRequest, code: str) -> str:
    """The words for an error ``code`` (a key of ERROR_TEXTS) in the page's language."""
    return translate(request, ERROR_TEXTS.get(code, ERROR_TEXTS["required"]))


def error_message(request: AnyRequest, exc: DomainError) -> str:
    """The words for ``exc`` in the page's language; a refused password says which rule."""
    if isinstance(exc, passwords.PasswordRejected):
        policy = services(request).settings.profile.password
        return passwords.message(exc.code, language(request), policy)
    return text_of(request, exc.code)


def link_refused(
    request: AnyRequest, exc: LinkInvalid, *, again: str, bound_to: Literal["password", "email"]
) -> Template:
    """The link cannot be used: why, and where to ask for a new one (``again``).
    ``bound_to`` names what a superseded link depended on."""
    if exc.code == "link_superseded":
        message = translate(request, SUPERSEDED[bound_to])
    else:
        message = error_message(request, exc)
    return render(
        request,
        "pages/recovery/link_invalid.html",
        status_code=HTTP_400_BAD_REQUEST,
        message=message,
        code=exc.code,
        again=again,
    )
