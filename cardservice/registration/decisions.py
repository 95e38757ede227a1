"""What approving a procedure on an existing card does: reissue, renewal, change of details;
and what becomes of a card reported lost when its reissue is not approved.

Each function works in the caller's transaction, after ``status.transition`` has moved the
application to ``approved``: the card change, its event for the library system, the patron's
new details, the emails and the audit entry commit together with the status, or nothing
does (PRODUCT.md, "Procedures"; the Kashiwa seed, 申請の対象となる手続き). A new
registration is approved in ``review.approve``.

- reissue: a **new** user number; the old card is revoked (``reissued``) with its token,
  and for a name change the patron's name and kana become the application's;
- renewal: the same number, a new expiry by the profile's rule, a new token; corrected
  address or phone taken over;
- change: the new address or phone (and basis of eligibility) on the patron.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards.lifecycle import (
    REPORTED_LOST,
    ReissueReason,
    record_event,
    reinstate_card,
    reissue_card,
    renew_card,
    suspend_card,
)
from cardservice.cards.models import Card, CardEventKind, CardStatus
from cardservice.cards.service import CardPolicy
from cardservice.errors import Conflict
from cardservice.mail.letterhead import letterhead
from cardservice.mail.outbox import OutgoingMail, enqueue
from cardservice.mail.render import Language
from cardservice.patrons.card_view import current_card
from cardservice.patrons.models import Patron
from cardservice.profiles.schema import Profile
from cardservice.registration.models import Application
from cardservice.registration.procedure_details import snapshot
from cardservice.staff import audit
from cardservice.staff.models import StaffUser

TARGET: Final = "application"  # the audit target type of applications
ADDRESS_FIELDS: Final = ("postal_code", "prefecture", "city", "street", "building")


class ApplicationNoCard(Conflict):
    """The patron has no card that this procedure can act on."""

    code = "application_no_card"


def card_link(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/card"


def my_link(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/my"


def language_of(app: Application) -> Language:
    return "en" if app.language == "en" else "ja"


def is_lost_reissue(app: Application) -> bool:
    return app.procedure == "reissue" and app.reissue_reason == ReissueReason.LOST


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """Who approves, and what the approval needs from the settings."""

    staff: StaffUser
    policy: CardPolicy
    profile: Profile
    base_url: str
    now: datetime


async def subject_card(session: AsyncSession, app: Application) -> Card | None:
    """The card the application is about: the one in its snapshot (so a card reissued at the
    desk meanwhile is not reissued again), else the patron's current card. A renewal or a
    change follows a reissue made meanwhile to the new card, which it then renews or
    updates; a reissue does not (its card is gone, so it is refused)."""
    number = app.previous.get("user_number") if app.previous else None
    if number:
        card = await session.scalar(
            select(Card).where(Card.user_number == number, Card.patron_id == app.patron_id)
        )
        while card is not None and app.procedure != "reissue" and card.replaced_by_id:
            card = await session.get(Card, card.replaced_by_id)
        if card is not None:
            return card
    return await current_card(session, app.patron_id) if app.patron_id else None


async def approve_procedure(session: AsyncSession, app: Application, ctx: Approval) -> Card:
    """The effects of approving a reissue, renewal or change of ``app``, whose patron is
    known. Returns the card issued (reissue), renewed, or whose details changed.

    Raises :class:`ApplicationNoCard` when the patron has no card, and the card life
    cycle's ``card_already_revoked`` / ``card_not_renewable`` when the card's state no
    longer allows the procedure (for example a reissue at the desk meanwhile).
    """
    patron = await session.get(Patron, app.patron_id)
    card = await subject_card(session, app)
    if patron is None or card is None:
        raise ApplicationNoCard(public_id=app.public_id)
    if not app.previous:  # history keeps the details as they were before the change
        app.previous = snapshot(patron, card)
    effect = _EFFECTS[app.procedure]
    return await effect(session, app, patron, card, ctx)


async def _reissue(
    session: AsyncSession, app: Application, patron: Patron, old: Card, ctx: Approval
) -> Card:
    # A reissue saved without a reason is treated as lost: nothing about the name changes.
    reason = ReissueReason(app.reissue_reason or ReissueReason.LOST)
    new = await reissue_card(session, old, reason, ctx.policy, now=ctx.now)
    renamed = reason == ReissueReason.NAME_CHANGED and _rename(patron, app)
    # The form asked for the current address and phone: a corrected one is taken over.
    changed = _update_details(patron, app)
    if renamed or changed:
        fields = [*(["name"] if renamed else []), *changed]
        await record_event(
            session, CardEventKind.DETAILS_CHANGED, new, detail={"fields": fields}, now=ctx.now
        )
    app.card_id = new.id
    lang = language_of(app)
    await _mail(
        session,
        app,
        patron,
        "reissue_completed",
        context={
            "name": patron.person_name,
            "user_number": new.user_number,
            "old_user_number": old.user_number,
            "card_link": card_link(ctx.base_url),
            "expires_on": new.expires_on,
            "eloan_notice": ctx.profile.procedures.eloan_notice.get(lang),
        },
        ctx=ctx,
    )
    await _audit(
        session,
        app,
        ctx,
        reason=str(reason),
        old_user_number=old.user_number,
        user_number=new.user_number,
        renamed=renamed,
        changed=changed,
    )
    return new


def _rename(patron: Patron, app: Application) -> bool:
    """The name and kana from the document showing the new name; whether any changed."""
    names = ("family_name", "given_name", "family_kana", "given_kana")
    changed = False
    for name in names:
        value = getattr(app, name)
        if value and value != getattr(patron, name):
            setattr(patron, name, value)
            changed = True
    return changed


async def _renew(
    session: AsyncSession, app: Application, patron: Patron, card: Card, ctx: Approval
) -> Card:
    old_expiry = card.expires_on
    await renew_card(session, card, ctx.profile.card, ctx.policy, now=ctx.now)
    changed = _update_details(patron, app)
    if changed:
        await record_event(
            session, CardEventKind.DETAILS_CHANGED, card, detail={"fields": changed}, now=ctx.now
        )
    app.card_id = card.id
    await _mail(
        session,
        app,
        patron,
        "renewal_completed",
        context={
            "name": patron.person_name,
            "user_number": card.user_number,
            "expires_on": card.expires_on,
            "card_link": card_link(ctx.base_url),
        },
        ctx=ctx,
    )
    await _audit(
        session,
        app,
        ctx,
        user_number=card.user_number,
        old_expires_on=old_expiry.isoformat(),
        expires_on=card.expires_on.isoformat(),
        changed=changed,
    )
    return card


async def _change(
    session: AsyncSession, app: Application, patron: Patron, card: Card, ctx: Approval
) -> Card:
    changed = _update_details(patron, app)
    # The library system learns which fields changed; it reads the values from the patron.
    await record_event(
        session, CardEventKind.DETAILS_CHANGED, card, detail={"fields": changed}, now=ctx.now
    )
    await _mail(
        session,
        app,
        patron,
        "details_changed",
        context={
            "name": patron.person_name,
            "my_link": my_link(ctx.base_url),
        },
        ctx=ctx,
    )
    await _audit(session, app, ctx, user_number=card.user_number, changed=changed)
    return card


def _update_details(patron: Patron, app: Application) -> list[str]:
    """Take over the application's address (as a whole, when it has one), phone and basis
    of eligibility; the names of the fields that changed."""
    values: dict[str, str] = {}
    if app.postal_code:
        values.update({name: getattr(app, name) for name in ADDRESS_FIELDS})
    if app.phone:
        values["phone"] = app.phone
    if app.basis:
        values["eligibility_basis"] = app.basis
        values["workplace_or_school"] = app.workplace_or_school
    changed = [name for name, value in values.items() if getattr(patron, name) != value]
    for name in changed:
        setattr(patron, name, values[name])
    return changed


async def _mail(
    session: AsyncSession,
    app: Application,
    patron: Patron,
    template: str,
    *,
    context: dict[str, Any],
    ctx: Approval,
) -> None:
    """To the address the application was verified with, and to the patron's registered
    address when that is another one, so the patron hears of a procedure on their card
    even if someone else asked for it."""
    lang = language_of(app)
    recipients = [app.email]
    if patron.email and patron.email.lower() != app.email.lower():
        recipients.append(patron.email)
    context = {**context, "library": letterhead(ctx.profile, lang)}
    for address in recipients:
        await enqueue(session, OutgoingMail(address, template, lang, context), now=ctx.now)


async def _audit(session: AsyncSession, app: Application, ctx: Approval, **detail: Any) -> None:
    await audit.record(
        session,
        staff_id=ctx.staff.id,
        action="application.approve",
        target_type=TARGET,
        target_id=app.public_id,
        detail={"procedure": app.procedure, "patron_id": app.patron_id, **detail},
    )


Effect = Callable[[AsyncSession, Application, Patron, Card, Approval], Awaitable[Card]]
_EFFECTS: Final[dict[str, Effect]] = {
    "reissue": _reissue,
    "renewal": _renew,
    "change": _change,
}


# ------------------------------------------------------------------------ a lost card


async def suspend_reported_lost(
    session: AsyncSession, card: Card | None, *, now: datetime | None = None
) -> bool:
    """Suspend an active card reported lost, so a finder cannot borrow with it while the
    reissue waits for review; whether it was suspended now."""
    if card is None or card.status != CardStatus.ACTIVE:
        return False
    await suspend_card(session, card, REPORTED_LOST, now=now)
    return True


async def release_lost_card(
    session: AsyncSession, app: Application, *, now: datetime | None = None
) -> str | None:
    """Reinstate the card a "lost" reissue suspended, when that reissue ends without a new
    number (rejected, or the reviewer picked another patron). Only a card still suspended as
    ``reported_lost`` comes back; returns its number, or None."""
    if not is_lost_reissue(app) or app.patron_id is None:
        return None
    card = await subject_card(session, app)
    if card is None or card.status != CardStatus.SUSPENDED or card.status_reason != REPORTED_LOST:
        return None
    await reinstate_card(session, card, now=now)
    return card.user_number
