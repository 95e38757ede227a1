"""The counter station in a real browser on a desk screen: a counter staff member logs in,
follows the link from the staff home, and types scans as a keyboard-wedge scanner does (the
number, then Enter). An active, an expired, a revoked, a suspended and an unknown number,
then garbage, each fill the screen in their colour (green, red, amber) with the reason in
words; the last scans list them.

The server runs as production starts it (see ``support.py``). Nothing raises a console
error (the page's script and styles are its own: CSP self only). Screenshots go to
``test-artifacts/counter-*.png`` for a person to look at.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from cardservice.cards.allocation import allocate_number
from cardservice.cards.models import Card, RevocationReason
from cardservice.cards.service import CardPolicy, revoke_card, set_suspended
from cardservice.db.engine import Database
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.profiles import load_profile
from cardservice.staff.models import Role
from cardservice.staff.service import create_staff
from tests.e2e.support import ARTIFACTS, E2E_MARKS, Server, chromium, start_server
from tests.web_support import STAFF_PASSWORD

pytestmark = E2E_MARKS
POLICY = CardPolicy.of(load_profile("example"))
PATRONS = (("山田", "花子", "はなこ"), ("佐々木", "健", "けん"), ("鈴木", "一郎", "いちろう"),
           ("高橋", "葵", "あおい"))  # fmt: skip
GREEN, AMBER, RED = "rgb(21, 128, 61)", "rgb(251, 191, 36)", "rgb(185, 28, 28)"


@dataclass(frozen=True)
class Numbers:
    active: str
    expired: str
    revoked: str
    suspended: str
    unknown: str


async def _seed(database_url: str) -> Numbers:
    """Counter staff ``tanaka``; four patrons' cards (active, expired, revoked as lost,
    suspended as reported lost);
    and a well-formed number never issued."""
    db = Database(database_url)
    numbers: list[str] = []
    try:
        async with db.transaction() as session:
            await create_staff(
                session, "tanaka", STAFF_PASSWORD, Role.COUNTER, display_name="田中 一郎"
            )
            for family, given, kana in PATRONS:
                card = await create_patron_with_card(
                    session,
                    NewPatron(
                        family_name=family,
                        given_name=given,
                        family_kana="てすと",
                        given_kana=kana,
                        birth_date=date(1990, 4, 1),
                        email=f"{kana}@example.org",
                    ),
                    POLICY,
                )
                numbers.append(card.user_number)
            await session.execute(
                update(Card)
                .where(Card.user_number == numbers[1])
                .values(expires_on=date(2024, 3, 31))
            )
            row = await session.scalar(select(Card).where(Card.user_number == numbers[2]))
            assert row is not None
            await revoke_card(session, row, RevocationReason.LOST, POLICY)
            row = await session.scalar(select(Card).where(Card.user_number == numbers[3]))
            assert row is not None
            set_suspended(row, "reported_lost")
            unknown = await allocate_number(session, POLICY.number_format)
    finally:
        await db.dispose()
    return Numbers(numbers[0], numbers[1], numbers[2], numbers[3], unknown)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    started = start_server(tmp_path)
    yield next(started)
    started.close()


def _scan(page: Page, typed: str) -> None:
    """As a keyboard-wedge scanner: the characters, then Enter."""
    field = page.locator("#scanned")
    expect(field).to_be_focused()
    page.keyboard.type(typed, delay=2)
    page.keyboard.press("Enter")


def test_counter_station(server: Server) -> None:
    numbers = asyncio.run(_seed(server.database_url))
    problems: list[str] = []
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(f"{server.url}/staff/login")
        page.fill("#username", "tanaka")
        page.fill("#password", STAFF_PASSWORD)
        page.locator("form button[type=submit]").last.click()
        page.get_by_role("link", name="カウンター照会（カードの確認）").click()
        expect(page).to_have_url(f"{server.url}/staff/counter")
        result = page.locator("#result")
        page.screenshot(path=str(ARTIFACTS / "counter-ready.png"))

        cases = [
            ("active", numbers.active, "valid", GREEN, "有効", "このカードは利用できます。"),
            ("expired", numbers.expired, "expired", RED, "有効期限切れ", "カウンターで更新"),
            ("revoked", numbers.revoked, "revoked", RED, "失効", "紛失の届出により無効"),
            ("suspended", numbers.suspended, "suspended", AMBER, "利用停止中", "紛失の届出"),
            ("unknown", numbers.unknown, "unknown", RED, "登録のないカード", "登録されていません"),
            ("garbage", "hello?", "invalid", RED, "読み取りエラー", "読み取れません"),
        ]
        for name, typed, status, colour, title, words in cases:
            _scan(page, typed)
            expect(result).to_have_attribute("data-status", status)
            expect(result.locator('[data-field="title"]')).to_have_text(title)
            expect(result.locator('[data-field="words"]')).to_contain_text(words)
            assert result.evaluate("e => getComputedStyle(e).backgroundColor") == colour, name
            expect(page.locator("#scanned")).to_have_value("")
            page.screenshot(path=str(ARTIFACTS / f"counter-{name}.png"))
            if name == "active":
                expect(result.locator('[data-field="holder"]')).to_have_text("山田 花子")
                expect(result.locator('[data-field="user_number"]')).to_have_text(numbers.active)
            if name == "expired":
                expect(result.locator('[data-field="expires_on"]')).to_have_text("2024年3月31日")
        # The title is large enough to read from a metre away.
        size = result.locator(".verdict-title").evaluate("e => getComputedStyle(e).fontSize")
        assert float(size.removesuffix("px")) >= 40
        recent = page.locator("#recent li")
        expect(recent).to_have_count(6)
        expect(recent.first).to_contain_text("読み取りエラーhello?")
        expect(recent.last).to_contain_text(numbers.active)
        page.screenshot(path=str(ARTIFACTS / "counter-recent.png"), full_page=True)
        # On a phone held up at the desk, the longest titles stay on one line.
        page.set_viewport_size({"width": 390, "height": 844})
        title = result.locator(".verdict-title")
        for typed, status in ((numbers.unknown, "unknown"), ("hello?", "invalid")):
            _scan(page, typed)
            expect(result).to_have_attribute("data-status", status)
            lines = title.evaluate(
                "e => e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight)"
            )
            assert lines < 1.5, (status, lines)
        page.screenshot(path=str(ARTIFACTS / "counter-phone.png"))
        context.close()
    assert problems == []
