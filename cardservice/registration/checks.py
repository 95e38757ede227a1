"""What the reviewer checks for each procedure, beside the form and the documents.

- reissue for a name change: the old and the new name and kana, side by side;
- reissue for a lost card: the card reported lost and its state now;
- renewal: the old expiry and the new one the approval would give (the profile's rule,
  ``cards.lifecycle.renewed_expiry``), why renewal is open, and corrected details;
- change of details: the old and new address and phone, and the eligibility verdict on
  the new address (``eligibility.check_eligibility``, as for a new registration);
- any procedure without a patron: the candidates to pick from (``candidates.py``);
- a new registration: registered patrons with this kana name (its reading: サイトウ and
  サイトー alike) and birth date who hold a card, and patrons with this email address or
  phone number, who may be the applicant or their family.

"Old" is the application's snapshot (``previous``) of the patron when the procedure was
submitted or the patron picked; "new" is the application's form (PRODUCT.md, "Procedures").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards.lifecycle import renewal_opening, renewed_expiry
from cardservice.profiles.schema import Profile
from cardservice.registration.candidates import Candidate, candidates, card_holders
from cardservice.registration.decisions import ADDRESS_FIELDS, subject_card
from cardservice.registration.eligibility import Eligibility, check_eligibility
from cardservice.registration.form import ApplicationForm, Basis, Notifications, Procedure
from cardservice.registration.japan import format_phone, format_postal_code
from cardservice.registration.models import Application

# The comparison rows that are the address (a change there is checked for eligibility).
ADDRESS_ROWS = frozenset({"postal_code", "address"})
# check_eligibility reads the address and the basis only; this stands in for the rest.
_ANY_BIRTH_DATE = date(2000, 1, 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """One detail before and after, as the reviewer reads it ("" when not known yet)."""

    field: str  # "name", "kana", "postal_code", "address", "phone"
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True, slots=True, kw_only=True)
class CardNow:
    """The card the procedure acts on, as it stands now."""

    user_number: str
    status: str
    reason: str | None
    expires_on: date


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcedureChecks:
    comparisons: list[Comparison] = field(default_factory=list)
    card: CardNow | None = None
    # Renewal: the expiry now and after an approval today, and why renewal is open
    # ("window", "expired", "dormant"; None when it is not open today).
    new_expiry: date | None = None
    renewal_basis: str | None = None
    # Change of details (and a renewal whose address changed): the verdict on the new one.
    eligibility: Eligibility | None = None
    # No patron yet: whom the application may be for. For a new registration: patrons
    # with its email address or phone number who are not among ``card_holders``.
    candidates: list[Candidate] = field(default_factory=list)
    # A new registration by someone who already holds a card.
    card_holders: list[Candidate] = field(default_factory=list)


async def procedure_checks(
    session: AsyncSession, app: Application, *, profile: Profile, today: date
) -> ProcedureChecks:
    """The checks of ``app``'s procedure on library date ``today``."""
    if app.procedure == Procedure.NEW:
        holders = await card_holders(session, app)
        shown = {holder.patron_id for holder in holders}
        others = [c for c in await candidates(session, app) if c.patron_id not in shown]
        return ProcedureChecks(card_holders=holders, candidates=others)
    found = await candidates(session, app) if app.patron_id is None else []
    card = await subject_card(session, app)
    now = (
        CardNow(
            user_number=card.user_number,
            status=card.status,
            reason=card.status_reason,
            expires_on=card.expires_on,
        )
        if card is not None
        else None
    )
    comparisons = _comparisons(app)
    checks = ProcedureChecks(comparisons=comparisons, card=now, candidates=found)
    if app.procedure == Procedure.RENEWAL and card is not None:
        opening = renewal_opening(card, profile.card, today)
        checks = replace(
            checks,
            new_expiry=renewed_expiry(card.expires_on, profile.card, today),
            renewal_basis=str(opening.basis) if opening.basis else None,
        )
    address_changed = any(c.changed for c in comparisons if c.field in ADDRESS_ROWS)
    if app.postal_code and (app.procedure == Procedure.CHANGE or address_changed):
        checks = replace(checks, eligibility=check_eligibility(_address_form(app), profile))
    return checks


def _comparisons(app: Application) -> list[Comparison]:
    old = app.previous or {}
    if app.procedure == Procedure.REISSUE:
        if app.reissue_reason != "name_changed":
            return []
        return [
            Comparison(
                field="name",
                before=_pair(old.get("family_name"), old.get("given_name"), " "),
                after=_pair(app.family_name, app.given_name, " "),
            ),
            Comparison(
                field="kana",
                before=_pair(old.get("family_kana"), old.get("given_kana"), "\u3000"),
                after=_pair(app.family_kana, app.given_kana, "\u3000"),
            ),
        ]
    if not app.postal_code and not app.phone:
        return []
    return [
        Comparison(
            field="postal_code",
            before=_postal(str(old.get("postal_code") or "")),
            after=_postal(app.postal_code),
        ),
        Comparison(
            field="address",
            before=_address([str(old.get(name) or "") for name in ADDRESS_FIELDS[1:]]),
            after=_address([getattr(app, name) for name in ADDRESS_FIELDS[1:]]),
        ),
        Comparison(
            field="phone",
            before=_phone(str(old.get("phone") or "")),
            after=_phone(app.phone),
        ),
    ]


def _pair(first: object, second: object, separator: str) -> str:
    return separator.join(str(part) for part in (first, second) if part).strip()


def _postal(code: str) -> str:
    return format_postal_code(code) if code else ""


def _phone(number: str) -> str:
    return format_phone(number) if number else ""


def _address(parts: list[str]) -> str:
    return " ".join(part for part in parts if part)


def _address_form(app: Application) -> ApplicationForm:
    """The application's address and basis in the shape ``check_eligibility`` reads."""
    basis = Basis(app.basis) if app.basis in {b.value for b in Basis} else Basis.LIVES
    return ApplicationForm(
        procedure=Procedure(app.procedure),
        family_name=app.family_name,
        given_name=app.given_name,
        family_kana=app.family_kana,
        given_kana=app.given_kana,
        birth_date=app.birth_date or _ANY_BIRTH_DATE,
        postal_code=app.postal_code,
        prefecture=app.prefecture,
        city=app.city,
        street=app.street,
        building=app.building,
        phone=app.phone,
        email=app.email,
        basis=basis,
        workplace_or_school=app.workplace_or_school,
        notifications=Notifications(),
        password="",
    )
