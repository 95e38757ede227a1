"""The staff card desk's actions on a card: suspend, reinstate, revoke, and reissue with a
new number for a patron standing at the desk.

They go through ``cards.lifecycle``, so a desk reissue has the same effects as an approved
online one (PRODUCT.md, "Procedures"; issue 7, items 4 and 9), and each is audited in the
same transaction. The desk pages and the CLI both call these functions; the CLI acts as the
system (``staff=None``). Reviewers and administrators may act; counter staff only read
(``require_role``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards import lifecycle
from cardservice.cards.lifecycle import REPORTED_LOST, ReissueReason
from cardservice.cards.models import Card, CardEventKind, CardStatus, RevocationReason
from cardservice.cards.service import CardAlreadyRevoked, CardPolicy, revoke_card
from cardservice.db.base import utcnow
from cardservice.errors import Conflict, InvalidInput
from cardservice.mail.letterhead import letterhead
from cardservice.mail.outbox import OutgoingMail, enqueue
from cardservice.mail.render import Language
from cardservice.patrons.desk.record import get_patron
from cardservice.patrons.models import Patron
from cardservice.patrons.names import InvalidKana, normalise_kana
from cardservice.profiles.schema import Profile
from cardservice.registration.form import NAME_MAX, FieldInvalid, clean_text
from cardservice.staff import audit
from cardservice.staff.models import Role, StaffUser
from cardservice.staff.service import require_role

AUDIT_TARGET: Final = "card"

# Why staff suspend a card at the desk: the patron reports it lost (and may find it again),
# or a staff decision. The import's own suspension reason is ``patrons.importer.ILS_SUSPENSION``.
STAFF_SUSPENSION: Final = "staff"
SUSPEND_REASONS: Final = (REPORTED_LOST, STAFF_SUSPENSION)
# What the desk and ``cardservice card revoke`` offer for a revocation without a new card.
REVOKE_REASONS: Final = (RevocationReason.LOST, RevocationReason.WITHDRAWN, RevocationReason.STAFF)


class DeskAction(StrEnum):
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    REVOKE = "revoke"
    REISSUE = "reissue"


class CardAlreadySuspended(Conflict):
    """The card is already suspended."""

    code = "card_already_suspended"


class DeskReasonInvalid(InvalidInput):
    """Choose a reason from the list."""

    code = "desk_reason_invalid"


class NameInvalid(InvalidInput):
    """The new name is not valid; ``fields`` maps each field to its error code."""

    code = "desk_name_invalid"

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(fields=fields)
        self.fields = fields


@dataclass(frozen=True, slots=True)
class NewName:
    family_name: str
    given_name: str
    family_kana: str
    given_kana: str


def available_actions(card: Card) -> tuple[DeskAction, ...]:
    """What may be done to a card in its state: nothing once revoked; a suspended card may be
    reinstated, an active one suspended; either may be reissued or revoked."""
    if card.status == CardStatus.REVOKED:
        return ()
    first = DeskAction.REINSTATE if card.status == CardStatus.SUSPENDED else DeskAction.SUSPEND
    return (first, DeskAction.REISSUE, DeskAction.REVOKE)


def require_available(action: DeskAction, card: Card) -> None:
    """Raise the error that says why ``action`` cannot be done to ``card`` now, if it cannot:
    ``CardAlreadyRevoked``, ``CardAlreadySuspended`` or ``CardNotSuspended``."""
    if action in available_actions(card):
        return
    if card.status == CardStatus.REVOKED:
        raise CardAlreadyRevoked(user_number=card.user_number)
    if action is DeskAction.SUSPEND:
        raise CardAlreadySuspended(user_number=card.user_number)
    raise lifecycle.CardNotSuspended(user_number=card.user_number)


def _may_act(staff: StaffUser | None) -> None:
    """Reviewers and administrators act at the desk; ``None`` is the system (the CLI)."""
    if staff is not None:
        require_role(staff, Role.REVIEWER)


async def _audit(
    session: AsyncSession, staff: StaffUser | None, action: str, card: Card, **detail: object
) -> None:
    await audit.record(
        session,
        staff_id=staff.id if staff is not None else None,
        action=action,
        target_type=AUDIT_TARGET,
        target_id=card.user_number,
        detail={"patron_id": card.patron_id, **detail},
    )


async def suspend(
    session: AsyncSession,
    card: Card,
    reason: str,
    *,
    staff: StaffUser | None,
    now: datetime | None = None,
) -> None:
    """Suspend a card that is active (``reason`` one of ``SUSPEND_REASONS``).

    Raises ``DeskReasonInvalid``, ``CardAlreadySuspended``, ``CardAlreadyRevoked``."""
    _may_act(staff)
    if reason not in SUSPEND_REASONS:
        raise DeskReasonInvalid(field="reason")
    if card.status == CardStatus.SUSPENDED:
        raise CardAlreadySuspended(user_number=card.user_number)
    await lifecycle.suspend_card(session, card, reason, now=now)
    await _audit(session, staff, "card.suspend", card, reason=reason)


async def reinstate(
    session: AsyncSession, card: Card, *, staff: StaffUser | None, now: datetime | None = None
) -> None:
    """Make a suspended card active again. Raises ``CardNotSuspended``, ``CardAlreadyRevoked``."""
    _may_act(staff)
    reason = card.status_reason
    await lifecycle.reinstate_card(session, card, now=now)
    await _audit(session, staff, "card.reinstate", card, suspended_for=reason)


async def revoke(
    session: AsyncSession,
    card: Card,
    reason: str,
    policy: CardPolicy,
    *,
    staff: StaffUser | None,
    now: datetime | None = None,
) -> None:
    """Revoke a card for good: its number and its token go on the revocation list, and the
    number is never handed out again. Raises ``DeskReasonInvalid``, ``CardAlreadyRevoked``."""
    _may_act(staff)
    try:
        why = RevocationReason(reason)
    except ValueError:
        raise DeskReasonInvalid(field="reason") from None
    now = now or utcnow()
    await revoke_card(session, card, why, policy, now=now)
    await lifecycle.record_event(
        session, CardEventKind.REVOKED, card, detail={"reason": str(why)}, now=now
    )
    await _audit(session, staff, "card.revoke", card, reason=str(why))


def parse_new_name(family_name: str, given_name: str, family_kana: str, given_kana: str) -> NewName:
    """The new name of a name-change reissue, checked as the application form checks it
    (required, at most 64 characters; kana in katakana, hiragana and half-width accepted).
    Raises ``NameInvalid`` with every field's error code at once."""
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    for field, raw, kana in (
        ("family_name", family_name, False),
        ("given_name", given_name, False),
        ("family_kana", family_kana, True),
        ("given_kana", given_kana, True),
    ):
        try:
            text = clean_text(raw, field, max_length=NAME_MAX)
            values[field] = normalise_kana(text, field=field) if kana else text
        except (FieldInvalid, InvalidKana) as exc:
            errors[field] = exc.code
    if errors:
        raise NameInvalid(errors)
    return NewName(**values)


async def reissue(
    session: AsyncSession,
    card: Card,
    reason: str,
    *,
    new_name: NewName | None,
    staff: StaffUser | None,
    policy: CardPolicy,
    profile: Profile,
    base_url: str,
    now: datetime | None = None,
) -> Card:
    """Reissue at the desk: a **new** user number at once. The old card is revoked with
    reason ``reissued`` and points to the new one, its token is revoked, a card event
    records old -> new; for a name change the patron's name and kana are updated; the
    patron is emailed the new number (``reissue_completed``) when they have an address.
    Returns the new card.

    Raises ``DeskReasonInvalid``, ``NameInvalid`` (a name change without a new name) and
    ``CardAlreadyRevoked`` (also when another reissue revoked the card first).
    """
    _may_act(staff)
    try:
        why = ReissueReason(reason)
    except ValueError:
        raise DeskReasonInvalid(field="reason") from None
    if why is ReissueReason.NAME_CHANGED and new_name is None:
        raise NameInvalid(dict.fromkeys(("family_name", "given_name"), "required"))
    now = now or utcnow()
    patron = await get_patron(session, card.patron_id)
    old_number = card.user_number
    new = await lifecycle.reissue_card(session, card, why, policy, now=now)
    if why is ReissueReason.NAME_CHANGED and new_name is not None:
        patron.family_name = new_name.family_name
        patron.given_name = new_name.given_name
        patron.family_kana = new_name.family_kana
        patron.given_kana = new_name.given_kana
        patron.updated_at = now
    if patron.email:
        await _mail_new_number(
            session, patron, old_number, new, profile=profile, base_url=base_url, now=now
        )
    await _audit(
        session,
        staff,
        "card.reissue",
        card,
        reason=str(why),
        new_user_number=new.user_number,
        emailed=bool(patron.email),
    )
    await session.flush()
    return new


async def _mail_new_number(
    session: AsyncSession,
    patron: Patron,
    old_number: str,
    new: Card,
    *,
    profile: Profile,
    base_url: str,
    now: datetime,
) -> None:
    lang: Language = "en" if patron.language == "en" else "ja"
    context = {
        "name": patron.person_name,
        "user_number": new.user_number,
        "old_user_number": old_number,
        "card_link": f"{base_url.rstrip('/')}/card",
        "expires_on": new.expires_on,
        "eloan_notice": profile.procedures.eloan_notice.get(lang),
        "library": letterhead(profile, lang),
    }
    await enqueue(session, OutgoingMail(patron.email, "reissue_completed", lang, context), now=now)
