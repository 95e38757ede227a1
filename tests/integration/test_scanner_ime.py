"""A barcode scanner typing through a Japanese IME, at the counter API and the card desk, on
both engines: its start/stop keys arrive as kana (あ for a in romaji input, ち for A under kana
lock) and the card is still found; other kana are refused as before."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cardservice.services import Services
from tests.card_support import verify
from tests.factories import make_card
from tests.web_support import Client, login, make_staff, web_client

KANA_LOCK_DIGITS = str.maketrans("1234567890", "ぬふあうえおやゆよわ")


def _as_typed(number: str) -> list[str]:
    return [
        f"あ{number}あ",  # romaji input: a
        f"ｂ{number}ｂ",  # romaji input: b stays a letter, full-width
        f"ち{number}ち",  # JIS kana input: the A key
        f"こ{number}そ",  # B, C
        f"し{number}し",  # D
        f"ア{number.translate(str.maketrans('0123456789', '０１２３４５６７８９'))}ア",
        f"ち{number.translate(KANA_LOCK_DIGITS)}ち",  # kana lock: the digit keys too
    ]


@pytest.mark.parametrize("index", range(7))
async def test_verify_reads_a_scan_through_an_ime(
    client: Client, services: Services, api_key: str, index: int
) -> None:
    card = await make_card(services)
    verdict = await verify(client, api_key, barcode=_as_typed(card.user_number)[index])
    assert (verdict["status"], verdict["user_number"]) == ("valid", card.user_number)


async def test_verify_refuses_other_kana(client: Client, services: Services, api_key: str) -> None:
    card = await make_card(services)
    verdict = await verify(client, api_key, barcode=f"ふ{card.user_number}ふ")
    assert (verdict["status"], verdict["reason"]) == ("invalid", "number_bad_format")


@pytest.fixture
async def desk(services: Services) -> AsyncIterator[Client]:
    async with web_client(services.settings, mail=False) as running:
        await make_staff(services, "desk")
        await login(running, "desk")
        yield running


async def test_the_desk_search_goes_to_the_patron(desk: Client, services: Services) -> None:
    card = await make_card(services)
    for typed in _as_typed(card.user_number)[:-1]:  # kana lock reads as a name there
        found = await desk.get("/staff/patrons", params={"q": typed})
        assert found.status_code == 303, (typed, found.text)
        assert found.headers["location"] == f"/staff/patrons/{card.patron_id}"
    names = await desk.get("/staff/patrons", params={"q": "あきこ"})
    assert names.status_code == 200  # kana that is no scan is still a name search
