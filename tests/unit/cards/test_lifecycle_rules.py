"""The renewal window, dormancy and new-expiry rules, and which procedures are open."""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec
import pytest

from cardservice.cards.lifecycle import (
    RenewalBasis,
    months_before,
    renewal_opening,
    renewal_opens_on,
    renewed_expiry,
)
from cardservice.cards.models import Card, CardStatus
from cardservice.profiles import load_profile
from cardservice.registration.form import Procedure
from cardservice.registration.procedures import Closed, judge

KASHIWA = load_profile("kashiwa")
YOKOHAMA = load_profile("yokohama")


def _card(expires_on: date, *, issued: date, last_used: date | None = None) -> Card:
    return Card(
        patron_id=1,
        user_number="110000000017",
        status=CardStatus.ACTIVE,
        issued_at=datetime(issued.year, issued.month, issued.day, tzinfo=UTC),
        expires_on=expires_on,
        token_jti="j",
        last_used_on=last_used,
    )


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2027, 3, 31), 1, date(2027, 2, 28)),  # clamped to February's last day
        (date(2028, 3, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2027, 1, 15), 1, date(2026, 12, 15)),  # across the year
        (date(2027, 5, 20), 12, date(2026, 5, 20)),
    ],
)
def test_months_before(day: date, months: int, expected: date) -> None:
    assert months_before(day, months) == expected


def test_kashiwa_window_is_one_month_and_yokohama_thirty_days() -> None:
    expiry = date(2027, 4, 1)
    assert renewal_opens_on(expiry, KASHIWA.card) == date(2027, 3, 1)
    assert renewal_opens_on(expiry, YOKOHAMA.card) == date(2027, 3, 2)


def test_renewal_opens_in_the_window_after_expiry_and_when_dormant() -> None:
    card = _card(date(2027, 4, 1), issued=date(2024, 4, 1), last_used=date(2026, 1, 10))
    section = KASHIWA.card
    assert not renewal_opening(card, section, date(2027, 2, 28)).open
    assert renewal_opening(card, section, date(2027, 2, 28)).opens_on == date(2027, 3, 1)
    assert renewal_opening(card, section, date(2027, 3, 1)).basis is RenewalBasis.WINDOW
    assert renewal_opening(card, section, date(2027, 4, 2)).basis is RenewalBasis.EXPIRED
    # Unused for three years: open long before the window.
    long_card = _card(date(2030, 4, 1), issued=date(2024, 4, 1))
    assert not renewal_opening(long_card, section, date(2027, 3, 31)).open
    assert renewal_opening(long_card, section, date(2027, 4, 1)).basis is RenewalBasis.DORMANT
    # A counter scan restarts the dormant period.
    used = _card(date(2030, 4, 1), issued=date(2024, 4, 1), last_used=date(2025, 6, 1))
    assert not renewal_opening(used, section, date(2027, 4, 1)).open


def test_new_expiry_from_old_expiry_or_from_approval() -> None:
    today = date(2027, 3, 10)
    old = date(2027, 4, 1)
    assert renewed_expiry(old, KASHIWA.card, today) == date(2030, 4, 1)  # "old_expiry"
    assert renewed_expiry(old, YOKOHAMA.card, today) == date(2030, 3, 10)  # "approval"
    # An expired card counts from the approval date under either rule.
    assert renewed_expiry(date(2027, 1, 1), KASHIWA.card, today) == date(2030, 3, 10)


def test_procedures_open_and_closed_with_reasons() -> None:
    today = date(2027, 2, 1)
    card = _card(date(2027, 4, 1), issued=date(2024, 4, 1), last_used=date(2026, 12, 1))
    renewal = judge(Procedure.RENEWAL, card, KASHIWA, today, {})
    assert renewal.closed is Closed.RENEWAL_NOT_YET
    assert renewal.opens_on == date(2027, 3, 1)
    assert judge(Procedure.CHANGE, card, KASHIWA, today, {}).open
    assert judge(Procedure.REISSUE, card, KASHIWA, today, {}).open
    waiting = judge(Procedure.CHANGE, card, KASHIWA, today, {"change": "pid"})
    assert (waiting.closed, waiting.open_application) == (Closed.APPLICATION_OPEN, "pid")
    assert judge(Procedure.NEW, card, KASHIWA, today, {}).closed is Closed.ALREADY_REGISTERED
    assert judge(Procedure.REISSUE, None, KASHIWA, today, {}).closed is Closed.NO_CARD
    card.status = CardStatus.SUSPENDED
    assert judge(Procedure.RENEWAL, card, KASHIWA, today, {}).closed is Closed.CARD_SUSPENDED
    assert judge(Procedure.REISSUE, card, KASHIWA, today, {}).open  # a lost card is suspended
    card.status = CardStatus.REVOKED
    assert judge(Procedure.REISSUE, card, KASHIWA, today, {}).closed is Closed.NO_CARD


def test_a_procedure_the_library_takes_at_the_counter_only() -> None:
    counter_only = msgspec.structs.replace(
        KASHIWA, procedures=msgspec.structs.replace(KASHIWA.procedures, online=["new"])
    )
    card = _card(date(2027, 4, 1), issued=date(2024, 4, 1))
    assert judge(Procedure.CHANGE, card, counter_only, date(2027, 3, 5), {}).closed is (
        Closed.NOT_ONLINE
    )
