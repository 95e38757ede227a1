"""Who an application is for: the patrons it may belong to, and the reviewer's pick.

A procedure started without logging in (a plastic-card holder, a phone lost with the card)
names no patron. The reviewer sees candidates, patrons whose kana name and birth date,
email or phone are the application's, and picks the one the identity document shows;
approval waits for that pick (PRODUCT.md: find duplicates by normalised kana name plus birth
date; issue "Who applies"). The same match, limited to patrons holding a card that is not
revoked, flags a new registration by someone who is already registered.

Kana names match when their readings do (``patrons.names.reading_key``: サイトウ イチロウ is
サイトー イチロー, small and large kana alike), so patrons are looked up by birth date and
their readings compared here. Emails are stored in one form on both sides
(``mail.addresses``) and phones in E.164, so those compare by equality.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from cardservice.cards.models import Card, CardStatus
from cardservice.cards.numbers import InvalidNumber, NumberFormat, normalise
from cardservice.db.base import utcnow
from cardservice.errors import Conflict, InvalidInput
from cardservice.mail.addresses import normalise_address
from cardservice.mail.errors import InvalidRecipient
from cardservice.patrons.card_view import current_card
from cardservice.patrons.models import Patron
from cardservice.patrons.names import reading_key
from cardservice.registration.decisions import (
    TARGET,
    is_lost_reissue,
    release_lost_card,
    suspend_reported_lost,
)
from cardservice.registration.errors import ApplicationAlreadyDecided, ApplicationNotReviewable
from cardservice.registration.models import DECIDED, Application, ApplicationStatus
from cardservice.registration.procedure_details import snapshot
from cardservice.staff import audit
from cardservice.staff.models import Role, StaffUser
from cardservice.staff.service import require_role

# More than this many candidates means the application's details match too loosely to
# pick from a list; the reviewer asks the applicant instead.
CANDIDATES_MAX: Final = 20
OPEN_STATUSES: Final = (ApplicationStatus.SUBMITTED, ApplicationStatus.INQUIRY)
NAME_BIRTH: Final = "name_birth"
EMAIL: Final = "email"
PHONE: Final = "phone"


class ApplicationPatronRequired(Conflict):
    """Choose the patron this application is for before approving it."""

    code = "application_patron_required"


class PatronChoiceInvalid(InvalidInput):
    """Choose one of the patrons listed."""

    code = "application_patron_invalid"


class PatronNumberUnknown(InvalidInput):
    """No card has this user number; check it and try again."""

    code = "application_patron_number_unknown"


class PatronFixed(Conflict):
    """The patron was logged in when the application was made; it cannot be changed."""

    code = "application_patron_fixed"


class PatronPickedMeanwhile(Conflict):
    """Another reviewer chose the patron meanwhile; reload the page to see the choice."""

    code = "application_patron_picked_meanwhile"


class PatronNotNeeded(Conflict):
    """A new registration creates its patron when it is approved."""

    code = "application_patron_not_needed"


@dataclass(frozen=True, slots=True, kw_only=True)
class CandidateCard:
    user_number: str
    status: str  # as stored: active, suspended or revoked (expiry is read from expires_on)
    reason: str | None
    expires_on: date


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    patron_id: int
    name: str
    kana: str
    birth_date: date
    email: str
    phone: str  # E.164
    postal_code: str
    address: str
    cards: tuple[CandidateCard, ...]
    matched_by: frozenset[str]  # NAME_BIRTH, EMAIL, PHONE

    @property
    def holds_card(self) -> bool:
        """Has a card that is not revoked (an expired one still counts: it can be renewed)."""
        return any(card.status != CardStatus.REVOKED for card in self.cards)


def same_person(
    kana: tuple[str, str], birth_date: date | None, other: tuple[str, str], other_birth: date | None
) -> bool:
    """Whether two kana names (family, given) and birth dates may be one person: the same
    birth date and the same readings (``patrons.names.reading_key``)."""
    return (
        birth_date is not None
        and birth_date == other_birth
        and bool(kana[0])
        and reading_key(*kana) == reading_key(*other)
    )


async def same_name_birth(
    session: AsyncSession, kana: tuple[str, str], birth_date: date | None, *, exclude: int = 0
) -> list[Patron]:
    """Patrons (other than ``exclude``) whose readings and birth date are these, by id."""
    if birth_date is None or not kana[0]:
        return []
    born = await session.scalars(
        select(Patron)
        .where(Patron.birth_date == birth_date, Patron.id != exclude)
        .order_by(Patron.id)
    )
    key = reading_key(*kana)
    return [p for p in born if reading_key(p.family_kana, p.given_kana) == key]


def _contact(app: Application) -> list[ColumnElement[bool]]:
    conditions = []
    if app.email:
        conditions.append(Patron.email == _stored_address(app.email))
    if app.phone:
        conditions.append(Patron.phone == app.phone)
    return conditions


async def candidates(
    session: AsyncSession, app: Application, *, contact: bool = True
) -> list[Candidate]:
    """Patrons matching ``app`` by kana name (its reading) and birth date, and
    (``contact``) by email or phone; the strongest matches first, at most
    ``CANDIDATES_MAX``. The application's own patron, once it has one, is left out."""
    own = app.patron_id or 0
    found = {
        p.id: p for p in await same_name_birth(session, _kana(app), app.birth_date, exclude=own)
    }
    conditions = _contact(app) if contact else []
    if conditions:
        by_contact = await session.scalars(
            select(Patron)
            .where(or_(*conditions), Patron.id != own)
            .order_by(Patron.id)
            .limit(CANDIDATES_MAX)
        )
        found.update((p.id, p) for p in by_contact)
    patrons = [found[key] for key in sorted(found)][:CANDIDATES_MAX]
    listed = [_candidate(p, app, await _cards(session, p.id)) for p in patrons]
    return sorted(listed, key=lambda c: (-len(c.matched_by), NAME_BIRTH not in c.matched_by))


async def card_holders(session: AsyncSession, app: Application) -> list[Candidate]:
    """For a new registration: registered patrons with this kana name (its reading) and
    birth date who hold a card that is not revoked. They need no new registration."""
    if app.procedure != "new":
        return []
    return [c for c in await candidates(session, app, contact=False) if c.holds_card]


async def card_holder_applications(session: AsyncSession, ids: Iterable[int]) -> set[int]:
    """Of the applications ``ids``, the new registrations whose kana name (its reading)
    and birth date are a patron's with a card that is not revoked (the queue's flag; one
    query for the applications, one for the patrons born on their birth dates)."""
    wanted = list(ids)
    if not wanted:
        return set()
    apps = list(
        await session.scalars(
            select(Application).where(
                Application.id.in_(wanted),
                Application.procedure == "new",
                Application.birth_date.is_not(None),
            )
        )
    )
    if not apps:
        return set()
    holders = await session.execute(
        select(Patron.id, Patron.family_kana, Patron.given_kana, Patron.birth_date)
        .join(Card, Card.patron_id == Patron.id)
        .where(
            Patron.birth_date.in_({app.birth_date for app in apps}),
            Card.status != CardStatus.REVOKED,
        )
        .distinct()
    )
    keys: dict[tuple[date, str], set[int]] = {}
    for patron_id, family, given, born in holders:
        keys.setdefault((born, reading_key(family, given)), set()).add(patron_id)
    flagged = set()
    for app in apps:
        born = app.birth_date or date.min  # never None: selected so
        matching = keys.get((born, reading_key(*_kana(app))), set())
        # Once approved, the application's own patron is no duplicate of it.
        if matching - {app.patron_id}:
            flagged.add(app.id)
    return flagged


async def _cards(session: AsyncSession, patron_id: int) -> tuple[CandidateCard, ...]:
    rows = await session.scalars(
        select(Card).where(Card.patron_id == patron_id).order_by(Card.issued_at, Card.id)
    )
    return tuple(
        CandidateCard(
            user_number=card.user_number,
            status=card.status,
            reason=card.status_reason,
            expires_on=card.expires_on,
        )
        for card in rows
    )


def _candidate(patron: Patron, app: Application, cards: tuple[CandidateCard, ...]) -> Candidate:
    matched = set()
    if same_person(
        (patron.family_kana, patron.given_kana), patron.birth_date, _kana(app), app.birth_date
    ):
        matched.add(NAME_BIRTH)
    if app.email and patron.email == _stored_address(app.email):
        matched.add(EMAIL)
    if app.phone and patron.phone == app.phone:
        matched.add(PHONE)
    parts = (patron.prefecture, patron.city, patron.street, patron.building)
    return Candidate(
        patron_id=patron.id,
        name=f"{patron.family_name} {patron.given_name}",
        kana=f"{patron.family_kana}\u3000{patron.given_kana}",
        birth_date=patron.birth_date,
        email=patron.email,
        phone=patron.phone,
        postal_code=patron.postal_code,
        address=" ".join(part for part in parts if part),
        cards=cards,
        matched_by=frozenset(matched),
    )


def _kana(app: Application) -> tuple[str, str]:
    return (app.family_kana, app.given_kana)


def _stored_address(address: str) -> str:
    """``address`` in the stored form; one that is none stays as it is (and matches none)."""
    try:
        return normalise_address(address)
    except InvalidRecipient:
        return address


async def patron_of_number(session: AsyncSession, raw: str, fmt: NumberFormat) -> int:
    """The patron whose card (current or past) has user number ``raw``, as typed or scanned;
    for a patron the candidates do not list (the applicant told their number)."""
    try:
        number = normalise(fmt, raw)
    except InvalidNumber:
        raise PatronNumberUnknown(field="user_number") from None
    patron_id = await session.scalar(select(Card.patron_id).where(Card.user_number == number))
    if patron_id is None:
        raise PatronNumberUnknown(field="user_number")
    return patron_id


async def link_patron(
    session: AsyncSession,
    app: Application,
    patron_id: int,
    staff: StaffUser,
    *,
    now: datetime | None = None,
) -> Patron:
    """The reviewer's pick: ``app`` is for patron ``patron_id``. Sets the patron, who picked
    it and the snapshot of their details and card; for a "lost" reissue, suspends that card
    (as the applicant's own submission does when logged in). A pick can be changed while the
    application waits; the card a former pick suspended is then reinstated. Audited.

    Raises :class:`PatronNotNeeded` for a new registration, :class:`PatronFixed` when the
    patron was logged in, :class:`PatronChoiceInvalid` for an unknown patron,
    :class:`PatronPickedMeanwhile` when another pick came first, and
    ``application_already_decided`` / ``application_not_reviewable`` once decided or not
    submitted.
    """
    require_role(staff, Role.REVIEWER)
    now = now or utcnow()
    if app.procedure == "new":
        raise PatronNotNeeded(public_id=app.public_id)
    if app.patron_id is not None and app.patron_linked_by is None:
        raise PatronFixed(public_id=app.public_id)
    patron = await session.get(Patron, patron_id)
    if patron is None:
        raise PatronChoiceInvalid(field="patron_id")
    if patron.id == app.patron_id:
        return patron  # picked again: nothing changes
    card = await current_card(session, patron.id)
    former = app.patron_id
    reinstated = await release_lost_card(session, app, now=now) if former else None
    await _set_patron(session, app, patron, card, staff)
    suspended = is_lost_reissue(app) and await suspend_reported_lost(session, card, now=now)
    await audit.record(
        session,
        staff_id=staff.id,
        action="application.link_patron",
        target_type=TARGET,
        target_id=app.public_id,
        detail={
            "patron_id": patron.id,
            "former_patron_id": former,
            "user_number": card.user_number if card else None,
            "suspended": suspended,
            "reinstated": reinstated,
        },
    )
    await session.flush()
    return patron


async def _set_patron(
    session: AsyncSession, app: Application, patron: Patron, card: Card | None, staff: StaffUser
) -> None:
    """Guarded like a status change: only while the application waits and still has the
    patron this pick replaces, so two reviewers picking at once cannot both win."""
    changed = await session.scalar(
        update(Application)
        .where(
            Application.id == app.id,
            Application.status.in_([str(s) for s in OPEN_STATUSES]),
            _same_patron(app.patron_id),
        )
        .values(
            patron_id=patron.id,
            patron_linked_by=staff.id,
            previous=snapshot(patron, card),
            updated_at=utcnow(),
        )
        .returning(Application.id)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(app)
    if changed is None:
        if app.status in DECIDED:
            raise ApplicationAlreadyDecided(public_id=app.public_id, status=app.status)
        if app.status in OPEN_STATUSES:
            raise PatronPickedMeanwhile(public_id=app.public_id)
        raise ApplicationNotReviewable(public_id=app.public_id, status=app.status)


def _same_patron(patron_id: int | None) -> ColumnElement[bool]:
    if patron_id is None:
        return Application.patron_id.is_(None)
    return Application.patron_id == patron_id
