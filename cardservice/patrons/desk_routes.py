"""The staff card desk pages: search, a patron's record, and the card actions.

Every staff member may search and read (counter staff included); reviewers and
administrators may act. Each action has a page of its own that asks for a reason and a
ticked confirmation before anything changes (no JavaScript needed); the change itself is one
transaction in ``patrons.desk``. A refused action (already revoked, not suspended, ...) is a
409 page that says why and changes nothing; a form error comes back on the action page (400)
with the field marked and what was typed kept.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Final
from urllib.parse import urlencode

import msgspec
from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_303_SEE_OTHER,
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
)
from phonenumbers import NumberParseException
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.calendar import local_today
from cardservice.cards.lifecycle import CardNotSuspended, ReissueReason
from cardservice.cards.models import Card
from cardservice.cards.numbers import InvalidNumber
from cardservice.cards.service import CardAlreadyRevoked, CardNotFound
from cardservice.errors import DomainError
from cardservice.patrons import desk
from cardservice.patrons.card_view import card_state
from cardservice.patrons.desk import (
    SUSPEND_REASONS,
    CardAlreadySuspended,
    DeskAction,
    NameInvalid,
    PatronNotFound,
    SearchEmpty,
    SearchTooLong,
)
from cardservice.patrons.desk_texts import (
    ACTION_LABELS,
    BACK_TO_DESK,
    BACK_TO_PATRON,
    DONE_NOTICES,
    EVENT_LABELS,
    FIELD_ERRORS,
    REASON_LABELS,
    REFUSALS,
    REISSUE_REASONS,
    REVOKE_REASON_LABELS,
    SOURCE_LABELS,
    STATE_LABELS,
    SUSPEND_REASON_LABELS,
)
from cardservice.patrons.models import Patron
from cardservice.registration.japan import format_phone, format_postal_code
from cardservice.staff.models import Role, StaffUser
from cardservice.web.pages import render, translate
from cardservice.web.review_admin import row_id
from cardservice.web.review_view import PROCEDURE_LABELS, STATUS_LABELS
from cardservice.web.staff import current_staff
from cardservice.web.state import services

DESK: Final = "/staff/patrons"
FIELD_MAX: Final = 1024  # far above every domain limit, which says so by the field

AnyRequest = Request[Any, Any, Any]


class ActionForm(msgspec.Struct):
    reason: Annotated[str, msgspec.Meta(max_length=FIELD_MAX)] = ""
    confirm: Annotated[str, msgspec.Meta(max_length=FIELD_MAX)] = ""
    family_name: Annotated[str, msgspec.Meta(max_length=FIELD_MAX)] = ""
    given_name: Annotated[str, msgspec.Meta(max_length=FIELD_MAX)] = ""
    family_kana: Annotated[str, msgspec.Meta(max_length=FIELD_MAX)] = ""
    given_kana: Annotated[str, msgspec.Meta(max_length=FIELD_MAX)] = ""


def patron_url(patron_id: int) -> str:
    return f"{DESK}/{patron_id}"


def action_url(card: Card, action: DeskAction) -> str:
    return f"{DESK}/{card.patron_id}/cards/{card.id}/{action}"


def _labels(request: AnyRequest, labels: dict[Any, str]) -> dict[str, str]:
    return {str(key): translate(request, text) for key, text in labels.items()}


def _error(request: AnyRequest, code: str) -> str:
    return translate(request, FIELD_ERRORS.get(code, FIELD_ERRORS["required"]))


def _refused(
    request: AnyRequest, staff: StaffUser, exc: DomainError, patron_id: int | None
) -> Template:
    """A 409 (404 for a card or patron that is not there) page that says why, with the way
    back to the patron, or to the desk when there is no patron to go back to."""
    missing = exc.code in {CardNotFound.code, PatronNotFound.code}
    back = DESK if patron_id is None or exc.code == PatronNotFound.code else patron_url(patron_id)
    return render(
        request,
        "pages/staff/patrons_refused.html",
        status_code=HTTP_404_NOT_FOUND if missing else HTTP_409_CONFLICT,
        staff=staff,
        message=translate(request, REFUSALS[exc.code]),
        code=exc.code,
        back=back,
        back_label=translate(request, BACK_TO_DESK if back == DESK else BACK_TO_PATRON),
    )


# ---------------------------------------------------------------------------------- search


@get(DESK, name="staff_desk")
async def desk_page(request: AnyRequest) -> Template | Redirect:
    """The search box (a scanner may type into it) and the patrons found."""
    staff = await current_staff(request)
    svc = services(request)
    raw = request.query_params.get("q")
    result, error = None, ""
    if raw is not None:
        try:
            query = desk.parse_query(raw, svc.policy.number_format)
            async with svc.db.transaction() as session:
                result = await desk.search(session, query)
        except (SearchEmpty, SearchTooLong, InvalidNumber) as exc:
            error = _error(request, exc.code)
    # A scanned or typed number leads straight to its patron.
    if result and result.query.kind is desk.SearchKind.NUMBER and len(result.hits) == 1:
        return Redirect(patron_url(result.hits[0].patron.id), status_code=HTTP_303_SEE_OTHER)
    return render(
        request,
        "pages/staff/patrons.html",
        status_code=HTTP_400_BAD_REQUEST if error else 200,
        staff=staff,
        q=raw or "",
        error=error,
        result=result,
        search_max=desk.SEARCH_MAX,
        state_labels=_labels(request, STATE_LABELS),
        states=_states(result, local_today(svc.policy.timezone)),
    )


def _states(result: desk.SearchResult | None, today: date) -> dict[int, str]:
    """Each listed card's state (valid, expired, suspended, revoked), by card id."""
    if result is None:
        return {}
    return {card.id: card_state(card, today) for hit in result.hits for card in hit.cards}


# ---------------------------------------------------------------------------------- record


@get(f"{DESK}/{{patron_id:int}}", name="staff_desk_patron")
async def patron_page(request: AnyRequest, patron_id: FromPath[int]) -> Template:
    staff = await current_staff(request)
    svc = services(request)
    if row_id(patron_id) is None:
        return _refused(request, staff, PatronNotFound(), None)
    try:
        async with svc.db.transaction() as session:
            record = await desk.patron_record(session, patron_id, local_today(svc.policy.timezone))
    except PatronNotFound as exc:
        return _refused(request, staff, exc, None)
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
                for action in desk.available_actions(line.card)
            ]
            if may_act
            else []
            for line in record.cards
        },
        notice=notice,
        new_card=new_card,
        state_labels=_labels(request, STATE_LABELS),
        reason_labels=_labels(request, REASON_LABELS),
        event_labels=_labels(request, EVENT_LABELS),
        source_label=translate(request, SOURCE_LABELS.get(record.patron.source, "")),
        phone=_phone(record.patron.phone),
        address=_address(record.patron),
        procedure_labels=_labels(request, PROCEDURE_LABELS),
        status_labels=_labels(request, STATUS_LABELS),
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


def _new_card(record: desk.PatronRecord, raw: str, done: str) -> Card | None:
    """The card a desk reissue just made, to show its number large."""
    if done != DeskAction.REISSUE or not raw.isascii() or not raw.isdigit():
        return None
    return next((line.card for line in record.cards if str(line.card.id) == raw), None)


# --------------------------------------------------------------------------------- actions

ACTION_PATH: Final = f"{DESK}/{{patron_id:int}}/cards/{{card_id:int}}/{{action:str}}"


def _desk_action(raw: str) -> DeskAction:
    try:
        return DeskAction(raw)
    except ValueError:
        raise NotFoundException from None


def _reasons(request: AnyRequest, action: DeskAction) -> list[tuple[str, str]]:
    by_action: dict[DeskAction, dict[Any, str]] = {
        DeskAction.SUSPEND: SUSPEND_REASON_LABELS,
        DeskAction.REVOKE: REVOKE_REASON_LABELS,
        DeskAction.REISSUE: REISSUE_REASONS,
    }
    labels = by_action.get(action, {})
    return [(str(value), translate(request, text)) for value, text in labels.items()]


async def _action_page(
    request: AnyRequest,
    staff: StaffUser,
    patron_id: int,
    card_id: int,
    action: DeskAction,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    values: ActionForm | None = None,
) -> Template:
    svc = services(request)
    if row_id(patron_id) is None or row_id(card_id) is None:
        return _refused(request, staff, CardNotFound(), None)
    try:
        async with svc.db.transaction() as session:
            patron = await desk.get_patron(session, patron_id)
            card = await desk.patron_card(session, patron_id, card_id)
            desk.require_available(action, card)
    except (
        PatronNotFound,
        CardNotFound,
        CardAlreadyRevoked,
        CardAlreadySuspended,
        CardNotSuspended,
    ) as exc:
        return _refused(request, staff, exc, patron_id)
    return render(
        request,
        "pages/staff/patrons_action.html",
        status_code=status_code,
        staff=staff,
        patron=patron,
        card=card,
        action=str(action),
        title=translate(request, ACTION_LABELS[action]),
        url=action_url(card, action),
        back=patron_url(patron_id),
        reasons=_reasons(request, action),
        errors=errors or {},
        values=values or _name_defaults(patron),
        state=translate(
            request,
            STATE_LABELS[card_state(card, local_today(svc.policy.timezone))],
        ),
        reason_labels=_labels(request, REASON_LABELS),
    )


def _name_defaults(patron: Patron) -> ActionForm:
    """The name-change fields start from the current name, so only what changed is typed."""
    return ActionForm(
        family_name=patron.family_name,
        given_name=patron.given_name,
        family_kana=patron.family_kana,
        given_kana=patron.given_kana,
    )


@get(ACTION_PATH, name="staff_desk_action_form")
async def action_form(
    request: AnyRequest, patron_id: FromPath[int], card_id: FromPath[int], action: FromPath[str]
) -> Template:
    staff = await current_staff(request, Role.REVIEWER)
    return await _action_page(request, staff, patron_id, card_id, _desk_action(action))


def _form_errors(
    action: DeskAction, data: ActionForm
) -> tuple[dict[str, str], desk.NewName | None]:
    """Every error of the form at once, by field (codes), and the new name if one is due."""
    errors: dict[str, str] = {}
    if data.confirm != "yes":
        errors["confirm"] = "confirm"
    choices = {
        DeskAction.SUSPEND: SUSPEND_REASONS,
        DeskAction.REVOKE: tuple(str(r) for r in desk.REVOKE_REASONS),
        DeskAction.REISSUE: tuple(str(r) for r in ReissueReason),
    }
    if action in choices and data.reason not in choices[action]:
        errors["reason"] = desk.DeskReasonInvalid.code
    new_name = None
    if action is DeskAction.REISSUE and data.reason == ReissueReason.NAME_CHANGED:
        try:
            new_name = desk.parse_new_name(
                data.family_name, data.given_name, data.family_kana, data.given_kana
            )
        except NameInvalid as exc:
            errors.update(exc.fields)
    return errors, new_name


@post(ACTION_PATH, name="staff_desk_action")
async def act(
    request: AnyRequest,
    patron_id: FromPath[int],
    card_id: FromPath[int],
    action: FromPath[str],
    data: URLEncodedBody[ActionForm],
) -> Template | Redirect:
    staff = await current_staff(request, Role.REVIEWER)
    chosen = _desk_action(action)
    errors, new_name = _form_errors(chosen, data)
    if errors or row_id(patron_id) is None or row_id(card_id) is None:
        return await _action_page(
            request,
            staff,
            patron_id,
            card_id,
            chosen,
            status_code=HTTP_400_BAD_REQUEST,
            errors={field: _error(request, code) for field, code in errors.items()},
            values=data,
        )
    svc = services(request)
    try:
        async with svc.db.transaction() as session:
            card = await desk.patron_card(session, patron_id, card_id)
            desk.require_available(chosen, card)
            new = await _perform(
                request, session, chosen, card, data=data, new_name=new_name, staff=staff
            )
    except (CardNotFound, CardAlreadyRevoked, CardAlreadySuspended, CardNotSuspended) as exc:
        return _refused(request, staff, exc, patron_id)
    query = {"done": str(chosen)}
    if new is not None:
        query["card"] = str(new.id)
    return Redirect(
        f"{patron_url(patron_id)}?{urlencode(query)}#done", status_code=HTTP_303_SEE_OTHER
    )


async def _perform(
    request: AnyRequest,
    session: AsyncSession,
    action: DeskAction,
    card: Card,
    *,
    data: ActionForm,
    new_name: desk.NewName | None,
    staff: StaffUser,
) -> Card | None:
    """Do ``action`` in the caller's transaction; a reissue returns the new card."""
    svc = services(request)
    if action is DeskAction.SUSPEND:
        await desk.suspend(session, card, data.reason, staff=staff)
    elif action is DeskAction.REINSTATE:
        await desk.reinstate(session, card, staff=staff)
    elif action is DeskAction.REVOKE:
        await desk.revoke(session, card, data.reason, svc.policy, staff=staff)
    else:
        return await desk.reissue(
            session,
            card,
            data.reason,
            new_name=new_name,
            staff=staff,
            policy=svc.policy,
            profile=svc.settings.profile,
            base_url=svc.settings.base_url,
        )
    return None


ROUTES: list[Any] = [desk_page, patron_page, action_form, act]
