"""The staff card desk: find a patron, read their record, and act on their cards at once.

A clerk finds a patron by user number (typed or scanned: start/stop characters, full-width
digits and hyphens are accepted), by name in kanji or in kana (hiragana and half-width kana
fold to katakana; part of a name is enough), or by email address. A patron's record holds
every card with its status, the card events and the patron's applications.

The actions (suspend, reinstate, revoke, and reissue with a new number for a patron standing
at the desk) go through ``cards.lifecycle``, so a desk reissue has the same effects as an
approved online one (PRODUCT.md, "Procedures"; issue 7, items 4 and 9), and each is audited
in the same transaction. The desk pages and the CLI both call these functions; the CLI acts
as the system (``staff=None``). Reviewers and administrators may act; counter staff only
read (``require_role``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards import lifecycle
from cardservice.cards.lifecycle import REPORTED_LOST, ReissueReason
from cardservice.cards.models import Card, CardEvent, CardEventKind, CardStatus, RevocationReason
from cardservice.cards.numbers import NumberFormat, normalise
from cardservice.cards.service import CardAlreadyRevoked, CardNotFound, CardPolicy, revoke_card
from cardservice.db.base import utcnow
from cardservice.errors import Conflict, InvalidInput, NotFound
from cardservice.mail.outbox import OutgoingMail, enqueue
from cardservice.mail.render import Language
from cardservice.patrons.card_view import CardState, card_state
from cardservice.patrons.models import Patron
from cardservice.patrons.names import InvalidKana, normalise_kana
from cardservice.profiles.schema import Profile
from cardservice.registration.form import NAME_MAX, FieldInvalid, clean_text
from cardservice.registration.models import Application
from cardservice.staff import audit
from cardservice.staff.models import Role, StaffUser
from cardservice.staff.service import require_role

SEARCH_MAX: Final = 128
RESULTS_MAX: Final = 50
EVENTS_MAX: Final = 200
AUDIT_TARGET: Final = "card"

# Why staff suspend a card at the desk: the patron reports it lost (and may find it again),
# or a staff decision. The import's own suspension reason is ``patrons.importer.ILS_SUSPENSION``.
STAFF_SUSPENSION: Final = "staff"
SUSPEND_REASONS: Final = (REPORTED_LOST, STAFF_SUSPENSION)
# What the desk offers for a revocation without a new card; the CLI takes any revocation
# reason, as it always has.
REVOKE_REASONS: Final = (RevocationReason.LOST, RevocationReason.WITHDRAWN, RevocationReason.STAFF)

# A user number, possibly with a Codabar start character in front: names never start so.
_NUMBER_START = re.compile(r"^[A-Da-d]?\s*[0-9]")


class SearchKind(StrEnum):
    NUMBER = "number"
    EMAIL = "email"
    KANA = "kana"
    NAME = "name"


class DeskAction(StrEnum):
    SUSPEND = "suspend"
    REINSTATE = "reinstate"
    REVOKE = "revoke"
    REISSUE = "reissue"


class SearchEmpty(InvalidInput):
    """Type a user number, a name or an email address."""

    code = "desk_search_empty"


class SearchTooLong(InvalidInput):
    """The search text is too long."""

    code = "desk_search_too_long"


class PatronNotFound(NotFound):
    """No patron has this id."""

    code = "patron_not_found"


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
class PatronQuery:
    """What the clerk typed, understood: one canonical number, an email fragment, or name
    fragments (kana normalised to katakana)."""

    kind: SearchKind
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PatronHit:
    patron: Patron
    cards: list[Card]


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: PatronQuery
    hits: list[PatronHit]
    more: bool  # more patrons matched than are listed


@dataclass(frozen=True, slots=True)
class CardLine:
    card: Card
    state: CardState
    replaced_by: str | None  # the new number, for a card revoked by a reissue


@dataclass(frozen=True, slots=True)
class PatronRecord:
    patron: Patron
    cards: list[CardLine]  # newest first
    events: list[CardEvent]  # newest first
    applications: list[Application]  # newest first


@dataclass(frozen=True, slots=True)
class NewName:
    family_name: str
    given_name: str
    family_kana: str
    given_kana: str


# ---------------------------------------------------------------------------------- search


def parse_query(raw: str, fmt: NumberFormat) -> PatronQuery:
    """Understand the search box: an email when it holds ``@``, a user number when it starts
    with a digit (or a Codabar start character and a digit), kana when every word is kana,
    else a name. Raises ``SearchEmpty``, ``SearchTooLong`` or ``InvalidNumber`` (with its
    ``number_*`` code: a misread or mistyped number is said so, never searched as a name)."""
    if len(raw) > SEARCH_MAX:
        raise SearchTooLong(max=SEARCH_MAX)
    text = " ".join(unicodedata.normalize("NFKC", raw).split())
    if not text:
        raise SearchEmpty
    if "@" in text:
        return PatronQuery(SearchKind.EMAIL, (text.lower(),))
    if _NUMBER_START.match(text):
        return PatronQuery(SearchKind.NUMBER, (normalise(fmt, raw),))
    words = tuple(text.split(" "))
    try:
        kana = tuple(normalise_kana(word) for word in words)
    except InvalidKana:
        return PatronQuery(SearchKind.NAME, words)
    return PatronQuery(SearchKind.KANA, kana)


async def search(
    session: AsyncSession, query: PatronQuery, *, limit: int = RESULTS_MAX
) -> SearchResult:
    """Patrons matching ``query``, by kana order, with their cards (oldest first). A name
    matches when the family and given name written together contain every word typed."""
    statement = select(Patron)
    if query.kind is SearchKind.NUMBER:
        statement = statement.join(Card, Card.patron_id == Patron.id).where(
            Card.user_number == query.terms[0]
        )
    elif query.kind is SearchKind.EMAIL:
        statement = statement.where(Patron.email.icontains(query.terms[0], autoescape=True))
    elif query.kind is SearchKind.KANA:
        kana = Patron.family_kana + Patron.given_kana
        for word in query.terms:
            statement = statement.where(kana.contains(word, autoescape=True))
    else:
        name = Patron.family_name + Patron.given_name
        for word in query.terms:
            statement = statement.where(name.icontains(word, autoescape=True))
    patrons = list(
        await session.scalars(
            statement.order_by(Patron.family_kana, Patron.given_kana, Patron.id).limit(limit + 1)
        )
    )
    shown = patrons[:limit]
    cards: dict[int, list[Card]] = {patron.id: [] for patron in shown}
    if shown:
        for card in await session.scalars(
            select(Card).where(Card.patron_id.in_(list(cards))).order_by(Card.id)
        ):
            cards[card.patron_id].append(card)
    hits = [PatronHit(patron, cards[patron.id]) for patron in shown]
    return SearchResult(query=query, hits=hits, more=len(patrons) > limit)


# ---------------------------------------------------------------------------------- record


async def get_patron(session: AsyncSession, patron_id: int) -> Patron:
    patron = await session.get(Patron, patron_id)
    if patron is None:
        raise PatronNotFound(patron_id=patron_id)
    return patron


async def patron_record(session: AsyncSession, patron_id: int, today: date) -> PatronRecord:
    """One patron with their cards (state as of ``today``), card events and applications."""
    patron = await get_patron(session, patron_id)
    cards = list(
        await session.scalars(
            select(Card).where(Card.patron_id == patron_id).order_by(Card.id.desc())
        )
    )
    numbers = {card.id: card.user_number for card in cards}
    events = await session.scalars(
        select(CardEvent)
        .where(CardEvent.patron_id == patron_id)
        .order_by(CardEvent.id.desc())
        .limit(EVENTS_MAX)
    )
    applications = await session.scalars(
        select(Application)
        .where(Application.patron_id == patron_id)
        .order_by(Application.id.desc())
    )
    lines = [
        CardLine(
            card=card,
            state=card_state(card, today),
            replaced_by=numbers.get(card.replaced_by_id) if card.replaced_by_id else None,
        )
        for card in cards
    ]
    return PatronRecord(
        patron=patron, cards=lines, events=list(events), applications=list(applications)
    )


async def patron_card(session: AsyncSession, patron_id: int, card_id: int) -> Card:
    """One of the patron's cards, locked for a change (``CardNotFound`` if not theirs)."""
    card = await session.scalar(
        select(Card).where(Card.id == card_id, Card.patron_id == patron_id).with_for_update()
    )
    if card is None:
        raise CardNotFound(card_id=card_id)
    return card


async def card_by_number(session: AsyncSession, fmt: NumberFormat, raw: str) -> Card:
    """The card with this (typed or scanned) number, locked for a change."""
    number = normalise(fmt, raw)
    card = await session.scalar(select(Card).where(Card.user_number == number).with_for_update())
    if card is None:
        raise CardNotFound(user_number=number)
    return card


# --------------------------------------------------------------------------------- actions


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
        "name": f"{patron.family_name} {patron.given_name}",
        "user_number": new.user_number,
        "old_user_number": old_number,
        "card_link": f"{base_url.rstrip('/')}/card",
        "expires_on": new.expires_on,
        "eloan_notice": profile.procedures.eloan_notice.get(lang),
    }
    await enqueue(session, OutgoingMail(patron.email, "reissue_completed", lang, context), now=now)
