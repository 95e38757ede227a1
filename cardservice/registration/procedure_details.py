"""What a procedure on an existing card records beside the form: the patron's details and
card as they were, so the review shows old beside new and history keeps them after approval
(``Application.previous``).

The applicant's submission takes the snapshot when the patron was logged in; the reviewer's
pick of the patron takes it for a procedure started without logging in.
"""

from __future__ import annotations

from typing import Any, Final

from cardservice.cards.models import Card
from cardservice.patrons.models import Patron

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
