"""The counter station: staff scan a card and read the verdict from a metre away.

    GET  /staff/counter        the station: one input a keyboard-wedge scanner types into
    POST /staff/counter        a scan, answered with the station and its result (no script)
    POST /staff/counter/scan   a scan, answered as JSON for the station's script

Counter staff and administrators only. The verdict is the verify API's
(``cards/counter.py``): a barcode or the card token of the QR code, with the reason in words,
the expiry and the holder's name for a visual check; a valid scan records the card's last
use. Garbage typed is an ``invalid`` result, never an error page. The page allows the camera
to this origin (Permissions-Policy) for the script's camera mode, where the browser has a
``BarcodeDetector``.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from litestar import Request, Response, get, post
from litestar.params import URLEncodedBody
from litestar.response import Template
from litestar.status_codes import HTTP_200_OK

from cardservice.calendar import written_date
from cardservice.cards.counter import SCAN_MAX_LENGTH, CounterScan, scan
from cardservice.cards.counter_texts import title_of, words_of
from cardservice.cards.verification import Status
from cardservice.staff.models import Role
from cardservice.web.i18n import language
from cardservice.web.pages import render, translate
from cardservice.web.staff import current_staff
from cardservice.web.state import services

COUNTER: Final = "/staff/counter"
# The camera for this page's own script; everything else stays off as on every page.
COUNTER_PERMISSIONS: Final = "camera=(self), microphone=(), geolocation=(), payment=(), usb=()"
# The colour a verdict shows in: green, amber or red.
TONES: Final = {Status.VALID: "ok", Status.SUSPENDED: "warn"}

AnyRequest = Request[Any, Any, Any]


class ScanForm(msgspec.Struct):
    # No length limit here: longer input is judged invalid (scan_too_long), not an error page.
    scanned: str = ""


class ScanView(msgspec.Struct, frozen=True):
    """A result as the station shows it, in the page's language."""

    status: str
    tone: str
    title: str
    words: str
    user_number: str | None
    expires_on: str | None
    holder: str | None


def view_of(request: AnyRequest, found: CounterScan) -> ScanView:
    verdict = found.verdict
    expires = (
        written_date(verdict.expires_on, language(request))
        if verdict.expires_on is not None
        else None
    )
    return ScanView(
        status=verdict.status.value,
        tone=TONES.get(verdict.status, "stop"),
        title=translate(request, title_of(verdict)),
        words=translate(request, words_of(verdict)),
        user_number=verdict.user_number,
        expires_on=expires,
        holder=found.holder,
    )


async def _scan(request: AnyRequest, scanned: str) -> ScanView:
    svc = services(request)
    return view_of(request, await scan(svc.verifier, svc.reader, scanned[: SCAN_MAX_LENGTH + 1]))


def _station(request: AnyRequest, **context: Any) -> Template:
    page = render(request, "pages/staff/counter.html", **context)
    page.headers["Permissions-Policy"] = COUNTER_PERMISSIONS
    return page


@get(COUNTER, name="staff_counter")
async def counter_page(request: AnyRequest) -> Template:
    staff = await current_staff(request, Role.COUNTER)
    return _station(request, staff=staff, result=None)


@post(COUNTER, name="staff_counter_scan_page", status_code=HTTP_200_OK)
async def counter_scan_page(request: AnyRequest, data: URLEncodedBody[ScanForm]) -> Template:
    """A scan sent by the form itself (no script): the station with the result."""
    staff = await current_staff(request, Role.COUNTER)
    return _station(request, staff=staff, result=await _scan(request, data.scanned))


@post(f"{COUNTER}/scan", name="staff_counter_scan", status_code=HTTP_200_OK)
async def counter_scan(request: AnyRequest, data: URLEncodedBody[ScanForm]) -> Response[ScanView]:
    """A scan sent by the station's script: the result as JSON (``ScanView``), never cached."""
    await current_staff(request, Role.COUNTER)
    return Response(await _scan(request, data.scanned), headers={"Cache-Control": "no-store"})


ROUTES: list[Any] = [counter_page, counter_scan_page, counter_scan]
