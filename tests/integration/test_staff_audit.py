"""The audit log on both engines: entries ride the caller's transaction and hold no secrets."""

from __future__ import annotations

from typing import Any

import pytest

from cardservice.services import Services
from cardservice.staff.audit import for_target, recent, record


async def test_record_and_read_newest_first(services: Services) -> None:
    async with services.db.transaction() as session:
        await record(
            session, staff_id=None, action="application.approve", target_type="application",
            target_id=7, detail={"user_number": "2000000012", "note": "住所確認済み"},
        )  # fmt: skip
        await record(
            session, staff_id=None, action="application.inquiry", target_type="application",
            target_id="8", detail={"reason": "document_unreadable"},
        )  # fmt: skip
    async with services.db.transaction() as session:
        entries = await recent(session, 10)
        history = await for_target(session, "application", 7)
    assert [e.action for e in entries] == ["application.inquiry", "application.approve"]
    assert entries[1].detail == {"user_number": "2000000012", "note": "住所確認済み"}
    assert entries[1].target_id == "7"
    assert entries[1].at.tzinfo is not None
    assert [e.action for e in history] == ["application.approve"]


async def test_entry_rolls_back_with_the_act(services: Services) -> None:
    class Failed(Exception):
        pass

    async def act_then_fail() -> None:
        async with services.db.transaction() as session:
            await record(
                session, staff_id=None, action="card.revoke", target_type="card", target_id=1
            )
            raise Failed

    with pytest.raises(Failed):
        await act_then_fail()
    async with services.db.transaction() as session:
        assert await recent(session, 10) == []


@pytest.mark.parametrize(
    "detail",
    [
        {"password": "x"},
        {"new_password_hash": "x"},
        {"Token": "x"},
        {"reset-token": "x"},
        {"front_image": "x"},
        {"photo": "x"},
        {"client_secret": "x"},
        {"my_number": "x"},
        {"nested": {"individual_number": "x"}},
        {"documents": [{"side": "front", "image": "x"}]},
    ],
)
async def test_secret_keys_are_refused(services: Services, detail: dict[str, Any]) -> None:
    async with services.db.transaction() as session:
        with pytest.raises(ValueError, match="must not hold"):
            await record(
                session, staff_id=None, action="x.y", target_type="t", target_id=1, detail=detail
            )
        assert await recent(session, 10) == []


async def test_bad_action_and_oversized_detail_are_refused(services: Services) -> None:
    async with services.db.transaction() as session:
        with pytest.raises(ValueError, match="actions"):
            await record(session, staff_id=None, action="Approve!", target_type="t", target_id=1)
        with pytest.raises(ValueError, match="too large"):
            await record(
                session, staff_id=None, action="x.y", target_type="t", target_id=1,
                detail={"blob": "A" * 10_000},
            )  # fmt: skip
