"""Which procedures a patron may apply for now, and for each one that is closed, why and
from when (Kashiwa seed, 申請の対象となる手続き; PRODUCT.md, "Procedures").

My Library lists these; starting a procedure checks the same answer, so the page and the
refusal never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards.lifecycle import renewal_opening
from cardservice.cards.models import Card, CardStatus
from cardservice.errors import Conflict
from cardservice.patrons.card_view import current_card
from cardservice.patrons.models import Patron
from cardservice.profiles.schema import Profile
from cardservice.registration.form import Procedure
from cardservice.registration.models import Application, ApplicationStatus

# An application still to be decided (a draft is not yet an application).
OPEN_STATUSES = (ApplicationStatus.SUBMITTED, ApplicationStatus.INQUIRY)
# Procedures on an existing card, in the order My Library lists them.
CARD_PROCEDURES = (Procedure.RENEWAL, Procedure.CHANGE, Procedure.REISSUE)


class Closed(StrEnum):
    """Why a procedure is not open to this patron now (stable codes; pages word them)."""

    NOT_ONLINE = "not_online"  # the library takes it at the counter only
    ALREADY_REGISTERED = "already_registered"  # new registration, for a card holder
    NO_CARD = "no_card"  # no card that is not revoked
    CARD_SUSPENDED = "card_suspended"
    APPLICATION_OPEN = "application_open"  # one of the same procedure waits for review
    RENEWAL_NOT_YET = "renewal_not_yet"  # before the renewal window (see opens_on)


@dataclass(frozen=True, slots=True)
class Availability:
    """One procedure for one patron on one day: open, or closed with a reason, and for a
    renewal not yet open, the first day it opens."""

    procedure: Procedure
    closed: Closed | None = None
    opens_on: date | None = None
    open_application: str | None = None  # public id of the application waiting

    @property
    def open(self) -> bool:
        return self.closed is None


class ProcedureClosed(Conflict):
    """This procedure is not open to you now."""

    code = "procedure_closed"


async def open_applications(session: AsyncSession, patron_id: int) -> dict[str, str]:
    """``{procedure: public_id}`` of this patron's applications waiting for a decision."""
    rows = await session.execute(
        select(Application.procedure, Application.public_id)
        .where(Application.patron_id == patron_id, Application.status.in_(OPEN_STATUSES))
        .order_by(Application.id)
    )
    return dict(rows.all())  # rows, not the Result: a Result has keys(), so dict() would index it


def judge(  # noqa: PLR0911  # one return per rule reads as the rule list
    procedure: Procedure,
    card: Card | None,
    profile: Profile,
    today: date,
    waiting: dict[str, str],
) -> Availability:
    """The rule for one procedure, without the database (``waiting`` as open_applications)."""
    if procedure == Procedure.NEW:
        return Availability(procedure, Closed.ALREADY_REGISTERED)
    if procedure.value not in profile.procedures.online:
        return Availability(procedure, Closed.NOT_ONLINE)
    if procedure.value in waiting:
        return Availability(
            procedure, Closed.APPLICATION_OPEN, open_application=waiting[procedure.value]
        )
    if card is None or card.status == CardStatus.REVOKED:
        return Availability(procedure, Closed.NO_CARD)
    if card.status == CardStatus.SUSPENDED and procedure != Procedure.REISSUE:
        return Availability(procedure, Closed.CARD_SUSPENDED)
    if procedure == Procedure.RENEWAL:
        opening = renewal_opening(card, profile.card, today)
        if not opening.open:
            return Availability(procedure, Closed.RENEWAL_NOT_YET, opens_on=opening.opens_on)
    return Availability(procedure)


async def availability(
    session: AsyncSession, patron: Patron, profile: Profile, today: date
) -> list[Availability]:
    """Every procedure on the patron's current card: renewal, change of details, reissue."""
    card = await current_card(session, patron.id)
    waiting = await open_applications(session, patron.id)
    return [judge(procedure, card, profile, today, waiting) for procedure in CARD_PROCEDURES]


async def require_open(
    session: AsyncSession, patron: Patron, procedure: Procedure, profile: Profile, today: date
) -> Availability:
    """The availability of ``procedure``, or :class:`ProcedureClosed` with its reason
    (``closed``, ``opens_on``) when it is not open."""
    card = await current_card(session, patron.id)
    waiting = await open_applications(session, patron.id)
    found = judge(procedure, card, profile, today, waiting)
    if not found.open:
        raise ProcedureClosed(
            closed=str(found.closed),
            opens_on=found.opens_on.isoformat() if found.opens_on else None,
        )
    return found
