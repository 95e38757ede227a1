"""What a procedure on an existing card (reissue, renewal, change of details) adds to the
application form, and what it records beside it.

- :func:`snapshot`: the patron's details and card as they were, so the review shows old
  beside new and history keeps them after approval (``Application.previous``). The
  applicant's submission takes it when the patron was logged in; the reviewer's pick of the
  patron takes it for a procedure started without logging in.
- :func:`parse_reissue`: a reissue's reason, new name and acknowledgement.
- :func:`changed_details`, :func:`identity_document_needed` and :func:`document_needs`:
  what a renewal or change alters, and which documents that needs.
- :func:`holds_card`, :func:`record_reissue`, :func:`record_submission`: what the
  applicant's form and submission check and record for a procedure (``applicant``).

Error codes raised here have no texts in this module: the pages word them from their
catalog (architecture, "Page text has two mechanisms").
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards.lifecycle import REPORTED_LOST, ReissueReason, suspend_card
from cardservice.cards.models import Card, CardStatus
from cardservice.patrons.card_view import current_card
from cardservice.patrons.models import Patron
from cardservice.patrons.names import reading_key
from cardservice.profiles.schema import Profile
from cardservice.registration.form import (
    ApplicationForm,
    Basis,
    Collector,
    FieldInvalid,
    Procedure,
    parse_kana,
    parse_name,
)
from cardservice.registration.models import Application
from cardservice.text import fold_width

ADDRESS_FIELDS: Final = ("postal_code", "prefecture", "city", "street", "building")
NAME_FIELDS: Final = ("family_name", "given_name", "family_kana", "given_kana")
# The reissue form's new-name fields: new_family_name -> family_name, ...
NEW_NAME_FIELDS: Final = {f"new_{name}": name for name in NAME_FIELDS}
_TRUE: Final = frozenset({"1", "on", "true", "yes"})

# The patron's fields the snapshot keeps, in the order a review lists them.
PATRON_FIELDS: Final = (
    "family_name",
    "given_name",
    "family_kana",
    "given_kana",
    "postal_code",
    "prefecture",
    "city",
    "street",
    "building",
    "phone",
    "email",
)


def snapshot(patron: Patron, card: Card | None) -> dict[str, Any]:
    """The patron's details and current card as JSON-ready values:
    ``{family_name, given_name, family_kana, given_kana, postal_code, prefecture, city,
    street, building, phone, email, user_number, expires_on, card_status}``.

    ``expires_on`` is an ISO date and ``card_status`` the stored status (active, suspended,
    revoked); the three card values are None when the patron has no card.
    """
    values: dict[str, Any] = {name: getattr(patron, name) for name in PATRON_FIELDS}
    values["user_number"] = card.user_number if card else None
    values["expires_on"] = card.expires_on.isoformat() if card else None
    values["card_status"] = str(card.status) if card else None
    return values


# --- what the form of each procedure adds ----------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Names:
    family_name: str
    given_name: str
    family_kana: str  # full-width katakana
    given_kana: str

    def as_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in NAME_FIELDS}


@dataclass(frozen=True, slots=True, kw_only=True)
class ReissueDetails:
    """A reissue's reason, the new name for a name change (else None), and that the
    applicant acknowledged the e-library notice (``procedures.eloan_notice``)."""

    reason: ReissueReason
    new_name: Names | None


def parse_reissue(form: Collector, registered: Names | None) -> ReissueDetails | None:
    """The reissue's own fields from ``form``'s raw values, errors kept in ``form``:

    - ``reissue_reason``: "lost" or "name_changed" (``reissue_reason_invalid``);
    - ``eloan_acknowledged``: ticked (``eloan_notice_required``);
    - ``new_family_name``, ``new_given_name``, ``new_family_kana``, ``new_given_kana``:
      required for a name change, the kana normalised as on the application form; the same
      as ``registered`` is ``name_unchanged``; given with reason "lost" is
      ``new_name_without_name_change``.
    """
    reason = form.take("reissue_reason", _reason)
    if form.raw.get("eloan_acknowledged", "").strip().lower() not in _TRUE:
        form.add("eloan_acknowledged", "eloan_notice_required")
    typed = any(form.raw.get(key, "").strip() for key in NEW_NAME_FIELDS)
    if reason is ReissueReason.LOST and typed:
        form.add("new_family_name", "new_name_without_name_change")
    new_name = None
    if reason is ReissueReason.NAME_CHANGED:
        parsed = {
            name: form.take(key, parse_kana if name.endswith("_kana") else parse_name)
            for key, name in NEW_NAME_FIELDS.items()
        }
        if all(parsed.values()):
            new_name = Names(**{name: str(value) for name, value in parsed.items()})
            if new_name == registered:
                form.add("new_family_name", "name_unchanged")
    if reason is None:
        return None
    return ReissueDetails(reason=reason, new_name=new_name)


def _reason(raw: str, field: str) -> ReissueReason:
    try:
        return ReissueReason(raw.strip())
    except ValueError:
        raise FieldInvalid(code="reissue_reason_invalid", field=field) from None


def names_of(source: object) -> Names:
    """The four name fields of a patron, an application or a parsed form."""
    return Names(**{name: str(getattr(source, name)) for name in NAME_FIELDS})


# --- what changes, and which documents that needs ---------------------------------------


def changed_details(details: Application | ApplicationForm, patron: Patron) -> list[str]:
    """Which of the address fields, ``phone`` and ``basis`` (basis of eligibility with the
    workplace or school) of ``details`` (an application or a parsed form) differ from the
    patron's. Text is compared as the form normalises it (``text.fold_width``, spaces
    ignored), so a record imported with full-width digits is not a change, and a kanji
    written another way (神 U+FA19 for U+795E) is."""
    changed = [
        name
        for name in (*ADDRESS_FIELDS, "phone")
        if _fold(getattr(details, name)) != _fold(getattr(patron, name))
    ]
    basis = (str(details.basis), _fold(details.workplace_or_school))
    if basis != (patron.eligibility_basis, _fold(patron.workplace_or_school)):
        changed.append("basis")
    return changed


def _fold(value: object) -> str:
    return "".join(fold_width(str(value or "")).split())


def identity_document_needed(
    procedure: Procedure, *, linked: bool, changed: Collection[str], profile: Profile
) -> bool:
    """Whether the application needs an identity document (PRODUCT.md, "Procedures"):

    - new registration and reissue: always (a name change needs one showing the new name);
    - a procedure started without logging in: always, as nothing else shows the reviewer
      that the applicant is the patron;
    - renewal: as ``card.renewal_document`` says, and always when the address changes;
    - change of details: for an address (or basis of eligibility) change; a phone-only
      change only when ``procedures.phone_change_document`` asks.
    """
    if procedure in (Procedure.NEW, Procedure.REISSUE) or not linked:
        return True
    if set(changed) - {"phone"}:
        return True
    if procedure is Procedure.RENEWAL:
        return profile.card.renewal_document
    return profile.procedures.phone_change_document


# --- what the draft and its submission record -------------------------------------------


async def holds_card(session: AsyncSession, form: ApplicationForm) -> bool:
    """Whether a patron with this kana name (its reading, ``patrons.names.reading_key``)
    and birth date holds a card not revoked."""
    holders = await session.execute(
        select(Patron.family_kana, Patron.given_kana)
        .join(Card, Card.patron_id == Patron.id)
        .where(Patron.birth_date == form.birth_date, Card.status != CardStatus.REVOKED)
    )
    key = reading_key(form.family_kana, form.given_kana)
    return any(reading_key(family, given) == key for family, given in holders)


def record_reissue(
    app: Application,
    form: ApplicationForm,
    reissue: ReissueDetails | None,
    *,
    linked: bool,
    now: datetime,
) -> None:
    """The reason and acknowledgement; for a name change the application's name becomes
    the new one. Without login, the name the applicant gave as registered is kept in
    ``previous["former_name"]`` for the reviewer, until the picked patron's snapshot
    replaces it."""
    app.previous = {}
    if reissue is None:
        app.reissue_reason = None
        app.eloan_acknowledged_at = None
        return
    app.reissue_reason = reissue.reason.value
    app.eloan_acknowledged_at = now
    if reissue.reason is ReissueReason.NAME_CHANGED and reissue.new_name is not None:
        for name, value in reissue.new_name.as_dict().items():
            setattr(app, name, value)
        if not linked:
            app.previous = {"former_name": names_of(form).as_dict()}


@dataclass(frozen=True, slots=True)
class DocumentNeeds:
    identity: bool  # an identity document (every side its type needs)
    extra: bool  # the document showing the workplace or school
    name_changed: bool  # the identity document must show the new name


def document_needs(app: Application, patron: Patron | None, profile: Profile) -> DocumentNeeds:
    """Which documents ``app`` needs, by its procedure and what it changes for ``patron``
    (the linked one, or None; see :func:`identity_document_needed`); the workplace or
    school document goes with the identity document when the basis is work or study."""
    changed = changed_details(app, patron) if patron is not None else []
    procedure = Procedure(app.procedure)
    identity = identity_document_needed(
        procedure, linked=patron is not None, changed=changed, profile=profile
    )
    working = app.basis in {Basis.WORKS, Basis.STUDIES}
    extra = identity and working and profile.documents.extra_for_work_or_study
    name_changed = app.reissue_reason == ReissueReason.NAME_CHANGED
    return DocumentNeeds(identity=identity, extra=extra, name_changed=name_changed)


async def record_submission(
    session: AsyncSession, app: Application, patron: Patron, *, now: datetime
) -> None:
    """The patron's details and card as they were when the procedure was submitted; then
    an active card reported lost is suspended at once, so a finder cannot borrow with it
    while the reissue waits (PRODUCT.md, "Procedures")."""
    card = await current_card(session, patron.id)
    app.previous = snapshot(patron, card)
    lost = app.procedure == Procedure.REISSUE and app.reissue_reason == ReissueReason.LOST
    if lost and card is not None and card.status == CardStatus.ACTIVE:
        await suspend_card(session, card, REPORTED_LOST, now=now)
    await session.flush()
