"""A patron's page at the desk: their details, cards with states and actions, card
history and applications; after a reissue, the new number large."""

from __future__ import annotations

from litestar import get
from litestar.params import FromPath
from litestar.response import Template
from phonenumbers import NumberParseException

from cardservice.calendar import local_today
from cardservice.cards.models import Card
from cardservice.patrons.desk.actions import DeskAction, available_actions
from cardservice.patrons.desk.record import PatronNotFound, PatronRecord, patron_record
from cardservice.patrons.desk.routes.common import (
    DESK,
    AnyRequest,
    action_url,
    page_labels,
    refused,
)
from cardservice.patrons.desk.texts import (
    ACTION_LABELS,
    DONE_NOTICES,
    EVENT_LABELS,
    REASON_LABELS,
    SOURCE_LABELS,
    STATE_LABELS,
)
from cardservice.patrons.models import Patron
from cardservice.registration.japan import format_phone, format_postal_code
from cardservice.registration.review_routes.admin import row_id
from cardservice.registration.review_routes.view import PROCEDURE_LABELS, STATUS_LABELS
from cardservice.staff.models import Role
from cardservice.web.pages import render, translate
from cardservice.web.staff import current_staff
from cardservice.web.state import services


@get(f"{DESK}/{{patron_id:int}}", name="staff_desk_patron")
async def patron_page(request: AnyRequest, patron_id: FromPath[int]) -> Template:
    staff = await current_staff(request)
    svc = services(request)
    if row_id(patron_id) is None:
        return refused(request, staff, PatronNotFound(), None)
    try:
        async with svc.db.read() as session:
            record = await patron_record(session, patron_id, local_today(svc.policy.timezone))
    except PatronNotFound as exc:
        return refused(request, staff, exc, None)
    done = request.query_params.get("done", "")
    notice = translate(request, DONE_NOTICES[DeskAction(done)]) if done in DONE_NOTICES else ""
    new_card = _new_card(record, request.query_params.get("card", ""), done)
    may_act = staff.role in {Role.REVIEWER, Role.ADMIN}
    return render(
        request,
        "pages/staff/patrons_detail.html",
        staff=staff,
        record=record,
        patron=record.patron,
        may_act=may_act,
        actions={
            line.card.id: [
                (action_url(line.card, action), translate(request, ACTION_LABELS[action]))
                for action in available_actions(line.card)
            ]
            if may_act
            else []
            for line in record.cards
        },
        notice=notice,
        new_card=new_card,
        state_labels=page_labels(request, STATE_LABELS),
        reason_labels=page_labels(request, REASON_LABELS),
        event_labels=page_labels(request, EVENT_LABELS),
        source_label=translate(request, SOURCE_LABELS.get(record.patron.source, "")),
        phone=_phone(record.patron.phone),
        address=_address(record.patron),
        procedure_labels=page_labels(request, PROCEDURE_LABELS),
        status_labels=page_labels(request, STATUS_LABELS),
    )


def _phone(stored: str) -> str:
    """National format for a stored E.164 number; anything else as it is."""
    try:
        return format_phone(stored) if stored else ""
    except NumberParseException:
        return stored


def _address(patron: Patron) -> str:
    postal = f"〒{format_postal_code(patron.postal_code)}" if patron.postal_code else ""
    parts = (postal, patron.prefecture, patron.city, patron.street, patron.building)
    return " ".join(part for part in parts if part)


def _new_card(record: PatronRecord, raw: str, done: str) -> Card | None:
    """The card a desk reissue just made, to show its number large."""
    if done != DeskAction.REISSUE or not raw.isascii() or not raw.isdigit():
        return None
    return next((line.card for line in record.cards if str(line.card.id) == raw), None)
