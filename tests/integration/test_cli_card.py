"""`cardservice card reissue|suspend|reinstate|revoke` run as an operator runs them (the
console script in a subprocess), on both engines: each goes through the card life cycle,
writes its card event and its audit row, and a reissue prints a new number that verifies
while the old one answers revoked/reissued."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from sqlalchemy import select

from cardservice.cards.models import Card, CardEvent
from cardservice.cards.verification import Status
from cardservice.cli.card import REVOKE_REASONS
from cardservice.mail.models import OutboxRow
from cardservice.patrons.desk.actions import REVOKE_REASONS as DESK_REVOKE_REASONS
from cardservice.patrons.models import Patron
from cardservice.services import Services
from cardservice.settings import Settings
from cardservice.staff.models import AuditEntry
from tests.cli_support import cardservice, cli_env


@pytest.fixture
def env(empty_db: Settings) -> dict[str, str]:
    return cli_env(empty_db, empty_db.data_dir)


def create_patron(env: dict[str, str], email: str = "hanako@example.org") -> str:
    out = cardservice(
        env, "patron", "create", "--family-name", "山田", "--given-name", "花子",
        "--family-kana", "やまだ", "--given-kana", "はなこ", "--birth-date", "1990-04-01",
        "--email", email,
    ).out  # fmt: skip
    found = re.search(r"user number (\S+),", out)
    assert found is not None, out
    return found.group(1)


def read(settings: Settings, work: Any) -> Any:
    """Run ``work(services)`` against the same database, as the test's own reader."""

    async def go() -> Any:
        svc = Services.build(settings)
        try:
            return await work(svc)
        finally:
            await svc.close()

    return asyncio.run(go())


async def _state(svc: Services) -> dict[str, Any]:
    async with svc.db.transaction() as session:
        cards = {c.user_number: c for c in await session.scalars(select(Card))}
        events = [
            (e.kind, e.user_number, e.new_user_number)
            for e in await session.scalars(select(CardEvent).order_by(CardEvent.id))
            if e.kind != "issued"  # every new patron's first event ("patron registered")
        ]
        audits = [
            (a.action, a.staff_id, a.target_id, a.detail)
            for a in await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
        mails = [
            (m.template, m.to_address, m.body_text)
            for m in await session.scalars(select(OutboxRow).order_by(OutboxRow.id))
        ]
        patrons = [(p.family_name, p.family_kana) for p in await session.scalars(select(Patron))]
    return {"cards": cards, "events": events, "audits": audits, "mails": mails, "patrons": patrons}


def test_reissue_prints_a_new_number_and_revokes_the_old(
    env: dict[str, str], empty_db: Settings
) -> None:
    old = create_patron(env)
    out = cardservice(env, "card", "reissue", f"A{old}A", "--reason", "lost").out
    found = re.search(
        r"^new user number (\S+), valid through \S+; (\S+) revoked \(reissued\)$", out
    )
    assert found is not None, out
    new = found.group(1)
    assert (found.group(2), new != old) == (old, True)

    state = read(empty_db, _state)
    assert state["cards"][old].status == "revoked"
    assert state["cards"][old].status_reason == "reissued"
    assert state["cards"][old].replaced_by_id == state["cards"][new].id
    assert ("reissued", old, new) in state["events"]
    issued, (action, staff_id, target, detail) = state["audits"]
    assert issued[:3] == ("card.issue", None, old)  # by `patron create`
    assert (action, staff_id, target, detail["new_user_number"]) == ("card.reissue", None, old, new)
    assert detail["actor"].startswith("cli:")
    [(_, to, body)] = [m for m in state["mails"] if m[0] == "reissue_completed"]
    assert (to, new in body, old in body) == ("hanako@example.org", True, True)

    async def both(svc: Services) -> list[Any]:
        return [await svc.verifier.by_barcode(number) for number in (old, new)]

    verdicts = read(empty_db, both)
    assert [(v.status, v.reason) for v in verdicts] == [
        (Status.REVOKED, "reissued"),
        (Status.VALID, None),
    ]

    again = cardservice(env, "card", "reissue", old, "--reason", "lost", ok=False)
    assert "card_already_revoked" in again.err
    assert (
        "card_not_found"
        in cardservice(env, "card", "reissue", "2000000998", "--reason", "lost", ok=False).err
    )


def test_name_change_reissue_takes_the_new_name(env: dict[str, str], empty_db: Settings) -> None:
    old = create_patron(env)
    usage = cardservice(env, "card", "reissue", old, "--reason", "name_changed", ok=False)
    assert usage.code == 2
    assert "--family-name" in usage.err
    bad = cardservice(
        env, "card", "reissue", old, "--reason", "name_changed", "--family-name", "佐藤",
        "--given-name", "花子", "--family-kana", "sato", "--given-kana", "はなこ", ok=False,
    )  # fmt: skip
    assert bad.code == 2  # a usage error naming the option, as every refused value
    assert "Error: Invalid value for '--family-kana': " in bad.err
    assert "(kana_invalid)" in bad.err
    cardservice(
        env, "card", "reissue", old, "--reason", "name_changed", "--family-name", "佐藤",
        "--given-name", "花子", "--family-kana", "さとう", "--given-kana", "ﾊﾅｺ",
    )  # fmt: skip
    state = read(empty_db, _state)
    assert state["patrons"] == [("佐藤", "サトウ")]
    assert state["cards"][old].status_reason == "reissued"


def test_suspend_reinstate_revoke_keep_their_output_and_record_events(
    env: dict[str, str], empty_db: Settings
) -> None:
    number = create_patron(env)
    assert cardservice(env, "card", "suspend", number).out == "suspended\n"
    refused = cardservice(env, "card", "suspend", number, "--reason", "reported_lost", ok=False)
    assert "card_already_suspended" in refused.err
    assert cardservice(env, "card", "reinstate", number).out == "active\n"
    assert "card_not_suspended" in cardservice(env, "card", "reinstate", number, ok=False).err
    assert cardservice(env, "card", "revoke", number, "--reason", "lost").out == "revoked (lost)\n"
    assert "card_already_revoked" in cardservice(env, "card", "suspend", number, ok=False).err

    state = read(empty_db, _state)
    assert [kind for kind, *_ in state["events"]] == ["suspended", "reinstated", "revoked"]
    assert [(action, staff_id) for action, staff_id, *_ in state["audits"]] == [
        ("card.issue", None),
        ("card.suspend", None),
        ("card.reinstate", None),
        ("card.revoke", None),
    ]
    verdict = read(empty_db, lambda svc: svc.verifier.by_barcode(number))
    assert (verdict.status, verdict.reason) == (Status.REVOKED, "lost")


def test_revoke_offers_the_desk_reasons_and_leaves_replacement_to_reissue(
    env: dict[str, str], empty_db: Settings
) -> None:
    assert [str(reason) for reason in DESK_REVOKE_REASONS] == REVOKE_REASONS
    number = create_patron(env)
    # Revoked as reissued with no new card, the counter would tell of a card never issued.
    for replacement in ("reissued", "name_changed"):
        refused = cardservice(env, "card", "revoke", number, "--reason", replacement, ok=False)
        assert refused.code == 2
        assert "card reissue" in cardservice(env, "card", "revoke", "--help").out
    state = read(empty_db, _state)
    assert state["events"] == []
    assert cardservice(env, "card", "revoke", number, "--reason", "withdrawn").out == (
        "revoked (withdrawn)\n"
    )
