"""The desk's action pages: each action (suspend, reinstate, revoke, reissue) has a page
that asks for a reason and a ticked confirmation; the POST does it in one transaction and
goes back to the patron, or shows the form again with the field marked (400), or a refusal
(409) when the card's state no longer allows it."""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import urlencode

import msgspec
from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_400_BAD_REQUEST
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.calendar import local_today
from cardservice.cards.lifecycle import CardNotSuspended, ReissueReason
from cardservice.cards.models import Card
from cardservice.cards.service import CardAlreadyRevoked, CardNotFound
from cardservice.patrons.card_view import card_state
from cardservice.patrons.desk import actions
from cardservice.patrons.desk.actions import (
    REVOKE_REASONS,
    SUSPEND_REASONS,
    CardAlreadySuspended,
    DeskAction,
    DeskReasonInvalid,
    NameInvalid,
    NewName,
    parse_new_name,
    require_available,
)
from cardservice.patrons.desk.record import PatronNotFound, get_patron, patron_card
from cardservice.patrons.desk.routes.common import (
    DESK,
    AnyRequest,
    action_url,
    field_error,
    page_labels,
    patron_url,
    refused,
)
from cardservice.patrons.desk.texts import (
    ACTION_LABELS,
    REASON_LABELS,
    REISSUE_REASONS,
    REVOKE_REASON_LABELS,
    STATE_LABELS,
    SUSPEND_REASON_LABELS,
)
from cardservice.patrons.models import Patron
from cardservice.registration.review_routes.admin import row_id
from cardservice.staff.models import Role, StaffUser
from cardservice.web.i18n import switching_language
from cardservice.web.pages import render, translate
from cardservice.web.resume import KEEPS_TYPED
from cardservice.web.staff import current_staff
from cardservice.web.state import services

FIELD_MAX: Final = 1024  # far above every domain limit, which says so by the field


class ActionForm(msgspec.Struct):
    reason: Annotated[str, msgspec.Meta(max_length=FIELD_MAX)] = ""
    confirm: Annotated[str, msgspec.Meta(max_length=FIELD_MAX)] = ""
    family_name: Annotated[str, msgspec.Meta(max_length=FIELD_MAX)] = ""
    given_name: Annotated[str, msgspec.Meta(max_length=FIELD_MAX)] = ""
    family_kana: Annotated[str, msgspec.Meta(max_length=FIELD_MAX)] = ""
    given_kana: Annotated[str, msgspec.Meta(max_length=FIELD_MAX)] = ""


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
        return refused(request, staff, CardNotFound(), None)
    try:
        async with svc.db.transaction() as session:
            patron = await get_patron(session, patron_id)
            card = await patron_card(session, patron_id, card_id)
            require_available(action, card)
    except (
        PatronNotFound,
        CardNotFound,
        CardAlreadyRevoked,
        CardAlreadySuspended,
        CardNotSuspended,
    ) as exc:
        return refused(request, staff, exc, patron_id)
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
        reason_labels=page_labels(request, REASON_LABELS),
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


def _form_errors(action: DeskAction, data: ActionForm) -> tuple[dict[str, str], NewName | None]:
    """Every error of the form at once, by field (codes), and the new name if one is due."""
    errors: dict[str, str] = {}
    if data.confirm != "yes":
        errors["confirm"] = "confirm"
    choices = {
        DeskAction.SUSPEND: SUSPEND_REASONS,
        DeskAction.REVOKE: tuple(str(r) for r in REVOKE_REASONS),
        DeskAction.REISSUE: tuple(str(r) for r in ReissueReason),
    }
    if action in choices and data.reason not in choices[action]:
        errors["reason"] = DeskReasonInvalid.code
    new_name = None
    if action is DeskAction.REISSUE and data.reason == ReissueReason.NAME_CHANGED:
        try:
            new_name = parse_new_name(
                data.family_name, data.given_name, data.family_kana, data.given_kana
            )
        except NameInvalid as exc:
            errors.update(exc.fields)
    return errors, new_name


@post(ACTION_PATH, name="staff_desk_action", opt=KEEPS_TYPED)
async def act(
    request: AnyRequest,
    patron_id: FromPath[int],
    card_id: FromPath[int],
    action: FromPath[str],
    data: URLEncodedBody[ActionForm],
) -> Template | Redirect:
    staff = await current_staff(request, Role.REVIEWER)
    chosen = _desk_action(action)
    if await switching_language(request):  # the form again, in the new language, as typed
        return await _action_page(request, staff, patron_id, card_id, chosen, values=data)
    errors, new_name = _form_errors(chosen, data)
    if errors or row_id(patron_id) is None or row_id(card_id) is None:
        return await _action_page(
            request,
            staff,
            patron_id,
            card_id,
            chosen,
            status_code=HTTP_400_BAD_REQUEST,
            errors={field: field_error(request, code) for field, code in errors.items()},
            values=data,
        )
    svc = services(request)
    try:
        async with svc.db.transaction() as session:
            card = await patron_card(session, patron_id, card_id)
            require_available(chosen, card)
            new = await _perform(
                request, session, chosen, card, data=data, new_name=new_name, staff=staff
            )
    except (CardNotFound, CardAlreadyRevoked, CardAlreadySuspended, CardNotSuspended) as exc:
        return refused(request, staff, exc, patron_id)
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
    new_name: NewName | None,
    staff: StaffUser,
) -> Card | None:
    """Do ``action`` in the caller's transaction; a reissue returns the new card."""
    svc = services(request)
    if action is DeskAction.SUSPEND:
        await actions.suspend(session, card, data.reason, staff=staff)
    elif action is DeskAction.REINSTATE:
        await actions.reinstate(session, card, staff=staff)
    elif action is DeskAction.REVOKE:
        await actions.revoke(session, card, data.reason, svc.policy, staff=staff)
    else:
        return await actions.reissue(
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
