"""What the review pages share: their addresses, the library's today, the form limits,
and the way back to the application after a decision."""

from __future__ import annotations

from datetime import date
from typing import Any, Final
from zoneinfo import ZoneInfo

from litestar import Request
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER

from cardservice.calendar import local_today
from cardservice.profiles.schema import Profile

QUEUE: Final = "/staff/queue"
APPLICATIONS: Final = "/staff/applications"
ID_DIGITS_MAX: Final = 9
TEXT_FIELD_MAX: Final = 20_000  # the domain's own limits are smaller and say so by the field

AnyRequest = Request[Any, Any, Any]


def library_today(profile: Profile) -> date:
    return local_today(ZoneInfo(profile.library.timezone))


def application_url(public_id: str) -> str:
    return f"{APPLICATIONS}/{public_id}"


def back_to_application(public_id: str, what: str) -> Redirect:
    return Redirect(f"{application_url(public_id)}?done={what}", status_code=HTTP_303_SEE_OTHER)
