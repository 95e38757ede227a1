"""The snapshot of a patron and their card that a procedure keeps as "before"."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from cardservice.cards.models import Card, CardStatus
from cardservice.patrons.models import Patron
from cardservice.registration.procedure_details import snapshot


def _patron() -> Patron:
    return Patron(
        id=7,
        family_name="山田",
        given_name="花子",
        family_kana="ヤマダ",
        given_kana="ハナコ",
        birth_date=date(1990, 4, 1),
        email="hanako@example.org",
        phone="+81452627334",
        postal_code="2310005",
        prefecture="神奈川県",
        city="横浜市中区",
        street="本町1-1",
        building="",
    )


def test_the_snapshot_keeps_details_and_card_as_json() -> None:
    card = Card(
        patron_id=7,
        user_number="1234567890",
        status=CardStatus.SUSPENDED,
        expires_on=date(2027, 3, 31),
        token_jti="j" * 43,
        issued_at=datetime(2024, 4, 1, tzinfo=UTC),
    )
    values = snapshot(_patron(), card)
    assert values == {
        "family_name": "山田",
        "given_name": "花子",
        "family_kana": "ヤマダ",
        "given_kana": "ハナコ",
        "postal_code": "2310005",
        "prefecture": "神奈川県",
        "city": "横浜市中区",
        "street": "本町1-1",
        "building": "",
        "phone": "+81452627334",
        "email": "hanako@example.org",
        "user_number": "1234567890",
        "expires_on": "2027-03-31",
        "card_status": "suspended",
    }
    assert json.loads(json.dumps(values)) == values  # stored in a JSON column as it is


def test_a_patron_without_a_card() -> None:
    values = snapshot(_patron(), None)
    assert values["user_number"] is None
    assert values["expires_on"] is None
    assert values["card_status"] is None
    assert values["family_name"] == "山田"
