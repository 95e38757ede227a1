"""What a card event says to the library system: its webhook type and its JSON body.

Body (Standard Webhooks' recommended shape): ``{"type", "timestamp", "data"}``, minified JSON
in UTF-8, ``timestamp`` the event's time (ISO 8601 UTC), ``data`` the card's numbers and the
event's own fields. A registration and a change of details also carry the patron's current
record (``data.patron``), so the library system can create or update the borrower without
another call. Imports from the library system itself (``imported``) are not sent back to it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final

from cardservice.cards.models import Card, CardEvent, CardEventKind
from cardservice.patrons.models import Patron

# Card event kind -> webhook event type ("patron.registered" and the rest).
EVENT_TYPES: Final[dict[str, str]] = {
    CardEventKind.ISSUED: "patron.registered",
    CardEventKind.DETAILS_CHANGED: "patron.details_changed",
    CardEventKind.RENEWED: "card.renewed",
    CardEventKind.REISSUED: "card.reissued",
    CardEventKind.SUSPENDED: "card.suspended",
    CardEventKind.REINSTATED: "card.reinstated",
    CardEventKind.REVOKED: "card.revoked",
}
TEST_TYPE: Final = "webhook.test"
# The kinds whose message carries the patron's record.
WITH_PATRON: Final = frozenset({CardEventKind.ISSUED, CardEventKind.DETAILS_CHANGED})
PATRON_FIELDS: Final = (
    "family_name",
    "given_name",
    "family_kana",
    "given_kana",
    "email",
    "phone",
    "postal_code",
    "prefecture",
    "city",
    "street",
    "building",
    "language",
)


def encode(event_type: str, at: datetime, data: dict[str, Any]) -> str:
    """The body as sent: minified JSON, Japanese as UTF-8 rather than escapes."""
    body = {"type": event_type, "timestamp": iso_instant(at), "data": data}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def iso_instant(at: datetime) -> str:
    """``2029-11-30T01:02:03.456789Z``: UTC, as the spec's examples write it."""
    return at.isoformat().replace("+00:00", "Z")


def event_body(event: CardEvent, patron: Patron | None, card: Card | None) -> str:
    """The body for ``event`` (a kind in ``EVENT_TYPES``); ``patron`` and ``card`` are the
    current records, used for the kinds in ``WITH_PATRON``. Raises ``KeyError`` for a kind
    that is not sent."""
    event_type = EVENT_TYPES[event.kind]
    data: dict[str, Any] = {"patron_id": event.patron_id, "user_number": event.user_number}
    if event.kind == CardEventKind.REISSUED:
        data["new_user_number"] = event.new_user_number
    data.update(event.detail or {})
    if event.kind in WITH_PATRON and patron is not None:
        data["patron"] = patron_record(patron)
    if event.kind == CardEventKind.ISSUED and card is not None:
        data["expires_on"] = card.expires_on.isoformat()
    return encode(event_type, event.created_at, data)


def patron_record(patron: Patron) -> dict[str, Any]:
    record: dict[str, Any] = {name: getattr(patron, name) for name in PATRON_FIELDS}
    record["birth_date"] = patron.birth_date.isoformat()
    return record


def probe_body(endpoint_id: int, at: datetime) -> str:
    """A test message: no patron, nothing for the library system to act on."""
    return encode(TEST_TYPE, at, {"endpoint_id": endpoint_id, "test": True})
