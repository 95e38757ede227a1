"""Migration 0013 on both engines: the seeded rejection reasons say 申請 in a new database and
in one migrated from before, while a reason an administrator rewrote stays theirs; down
puts the seeded texts back, and up again rewords them."""

from __future__ import annotations

import importlib
import re

from sqlalchemy import select

from cardservice.db.engine import Database
from cardservice.db.migrate import upgrade
from cardservice.registration.models import RejectionTemplate
from tests.integration.test_offline_feed_migration import _downgrade
from tests.integration.test_registration_migration import fresh_url  # noqa: F401  # a fixture

OTHER_WORDING = re.compile(r"申し込|申込")
REWORDED = importlib.import_module(
    "cardservice.db.migrations.versions.0013_rejection_wording"
).REWORDED
OWN_TEXT = "写真が暗くて読めませんでした。お申し込みの際は明るい場所で撮影してください。"


async def _texts(url: str) -> dict[str, str]:
    database = Database(url)
    try:
        async with database.read() as session:
            rows = await session.scalars(select(RejectionTemplate))
            return {row.code: row.text_ja for row in rows}
    finally:
        await database.dispose()


async def _set(url: str, code: str, text: str) -> None:
    database = Database(url)
    try:
        async with database.transaction() as session:
            row = await session.scalar(
                select(RejectionTemplate).where(RejectionTemplate.code == code)
            )
            assert row is not None
            row.text_ja = text
    finally:
        await database.dispose()


async def test_seeded_reasons_say_shinsei_and_an_edited_one_stays(
    fresh_url: str,  # noqa: F811
) -> None:
    await upgrade(fresh_url)
    texts = await _texts(fresh_url)
    assert [text for text in texts.values() if OTHER_WORDING.search(text)] == []
    for code, (_, now) in REWORDED.items():
        assert texts[code] == now
        assert now.endswith("もう一度申請してください。")

    # A database from before 0013: the seeded texts, one of them rewritten by its administrator.
    await _downgrade(fresh_url, "0013@0006")
    before = await _texts(fresh_url)
    assert {code: before[code] for code in REWORDED} == {
        code: seeded for code, (seeded, _) in REWORDED.items()
    }
    await _set(fresh_url, "document_expired", OWN_TEXT)
    await upgrade(fresh_url)
    after = await _texts(fresh_url)
    assert after["unreadable_image"] == REWORDED["unreadable_image"][1]
    assert after["address_mismatch"] == REWORDED["address_mismatch"][1]
    assert after["document_expired"] == OWN_TEXT
    # The reasons 0013 does not reword are as they were.
    assert after["not_eligible"] == before["not_eligible"]
    assert after["duplicate_registration"] == before["duplicate_registration"]
