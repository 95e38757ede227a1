"""Expiry reminders, on both engines, by travelling in time: none before the notice period,
one inside it, none again (also from a second run and two runs at once), a new one after a
renewal; only to opted-in patrons' active cards; in the patron's language; once through a
real SMTP server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest
import time_machine
from sqlalchemy import func, select

from cardservice.cards.lifecycle import renew_card
from cardservice.cards.models import Card
from cardservice.cards.service import set_suspended
from cardservice.jobs import run_jobs
from cardservice.mail.models import OutboxRow
from cardservice.notices.models import NoticeDelivery
from cardservice.notices.reminders import reminder_key, send_expiry_reminders
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.services import Services
from tests.registration_flow import outbox
from tests.unit.mail.support import SmtpSink, free_port, relay_to

BASE_URL = "https://cards.example.org"
# When the cards are made: 10:00 in Tokyo on Monday 6 April 2026.
ISSUED = datetime(2026, 4, 6, 1, 0, tzinfo=UTC)
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def profile_name() -> str:
    return "kashiwa"  # renewal from the old expiry; reminders 30 days before (the default)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def at_library(day: date, hour: int = 10) -> datetime:
    """``hour`` o'clock on ``day`` in the library's time zone."""
    return datetime.combine(day, time(hour), tzinfo=TOKYO)


async def make_patron(
    services: Services,
    email: str,
    *,
    expiry_near: bool = True,
    language: str = "ja",
    given_name: str = "花子",
) -> Card:
    with time_machine.travel(ISSUED, tick=False):
        async with services.db.transaction() as session:
            return await create_patron_with_card(
                session,
                NewPatron(
                    family_name="山田",
                    given_name=given_name,
                    family_kana="ヤマダ",
                    given_kana="ハナコ",
                    birth_date=date(1990, 4, 1),
                    email=email,
                    language=language,
                    notifications={"expiry_near": expiry_near, "emergency_closure": False},
                ),
                services.policy,
            )


async def run(services: Services) -> int | None:
    report = await run_jobs(services.db, services.settings.profile, base_url=BASE_URL)
    assert report.failed == []
    return report.expiry_reminders


async def test_one_reminder_per_card_per_expiry_date(services: Services) -> None:
    card = await make_patron(services, "hanako@example.org")
    await make_patron(services, "silent@example.org", expiry_near=False)
    days = services.settings.profile.card.expiry_notice_days
    first_day = card.expires_on - timedelta(days=days)

    with time_machine.travel(at_library(first_day - timedelta(days=1), hour=23), tick=False):
        assert await run(services) == 0
    assert await outbox(services, "expiry_reminder") == []

    with time_machine.travel(at_library(first_day, hour=0), tick=False):
        assert await run(services) == 1
        assert await run(services) == 0  # a second run, as another process would
    with time_machine.travel(at_library(card.expires_on), tick=False):
        assert await run(services) == 0  # still the same expiry date

    [mail] = await outbox(services, "expiry_reminder")
    assert mail.to_address == "hanako@example.org"
    assert mail.language == "ja"
    assert mail.subject == "【柏市立図書館】利用カードの有効期限が近づいています"
    assert card.user_number in mail.body_text
    expires = card.expires_on
    assert f"{expires.year}年{expires.month}月{expires.day}日" in mail.body_text
    assert f"{BASE_URL}/my" in mail.body_text
    assert f'href="{BASE_URL}/my"' in mail.body_html
    async with services.db.transaction() as session:
        keys = list(await session.scalars(select(NoticeDelivery.notice_key)))
    assert keys == [reminder_key(card.id, card.expires_on)]


async def test_a_renewal_makes_the_next_reminder_possible(services: Services) -> None:
    card = await make_patron(services, "hanako@example.org")
    first_day = card.expires_on - timedelta(days=services.settings.profile.card.expiry_notice_days)
    with time_machine.travel(at_library(first_day + timedelta(days=3)), tick=False):
        assert await run(services) == 1
        async with services.db.transaction() as session:
            stored = await session.get(Card, card.id)
            assert stored is not None
            new_expiry = await renew_card(
                session, stored, services.settings.profile.card, services.policy
            )
        assert new_expiry > card.expires_on
        assert await run(services) == 0  # the new expiry is years away
    with time_machine.travel(at_library(new_expiry - timedelta(days=10)), tick=False):
        assert await run(services) == 1
        assert await run(services) == 0
    first, second = await outbox(services, "expiry_reminder")
    old, new = card.expires_on, new_expiry
    assert f"{old.year}年{old.month}月{old.day}日" in first.body_text
    assert f"{new.year}年{new.month}月{new.day}日" in second.body_text


async def test_only_opted_in_patrons_active_cards(services: Services) -> None:
    english = await make_patron(services, "jane@example.org", language="en", given_name="Jane")
    suspended = await make_patron(services, "lost@example.org")
    async with services.db.transaction() as session:
        stored = await session.get(Card, suspended.id)
        assert stored is not None
        set_suspended(stored, "reported_lost")
    await make_patron(services, "no@example.org", expiry_near=False)
    with time_machine.travel(at_library(english.expires_on - timedelta(days=1)), tick=False):
        assert await run(services) == 1
    with time_machine.travel(at_library(english.expires_on + timedelta(days=1)), tick=False):
        assert await run(services) == 0  # expired: past "near"
    [mail] = await outbox(services, "expiry_reminder")
    assert (mail.to_address, mail.language) == ("jane@example.org", "en")
    assert mail.subject == "[Kashiwa City Library] Your library card expires soon"
    # The record holds 山田 / Jane: a name not all in the Latin alphabet is kept as written.
    assert mail.body_text.startswith("Dear 山田 Jane,\n")


async def test_a_notice_period_of_zero_sends_none(services: Services) -> None:
    card = await make_patron(services, "hanako@example.org")
    profile = services.settings.profile
    never = msgspec.structs.replace(
        profile, card=msgspec.structs.replace(profile.card, expiry_notice_days=0)
    )
    with time_machine.travel(at_library(card.expires_on - timedelta(days=1)), tick=False):
        assert await send_expiry_reminders(services.db, never, base_url=BASE_URL) == 0
        report = await run_jobs(services.db, profile)  # no base URL: not run at all
    assert report.expiry_reminders is None
    assert "expiry reminders queued: not run (no base URL)" in report.lines()
    assert await outbox(services, "expiry_reminder") == []


async def test_two_runs_at_once_send_each_reminder_once(services: Services) -> None:
    cards = [await make_patron(services, f"patron{i}@example.org") for i in range(7)]
    profile = services.settings.profile
    # A second process: its own engine and connections.
    other = Services.build(services.settings)
    try:
        with time_machine.travel(at_library(cards[0].expires_on - timedelta(days=5)), tick=False):
            counts = await asyncio.gather(
                send_expiry_reminders(services.db, profile, base_url=BASE_URL, batch_size=2),
                send_expiry_reminders(other.db, profile, base_url=BASE_URL, batch_size=2),
                send_expiry_reminders(services.db, profile, base_url=BASE_URL, batch_size=3),
            )
    finally:
        await other.close()
    assert sum(counts) == 7
    mails = await outbox(services, "expiry_reminder")
    assert sorted(m.to_address for m in mails) == sorted(f"patron{i}@example.org" for i in range(7))
    async with services.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(NoticeDelivery)) == 7
        assert await session.scalar(select(func.count()).select_from(OutboxRow)) == 7


async def test_the_reminder_through_a_real_smtp_server(services: Services, sink: SmtpSink) -> None:
    card = await make_patron(services, "hanako@example.org")
    with time_machine.travel(at_library(card.expires_on - timedelta(days=2))):
        assert await run(services) == 1
        await relay_to(services, sink.port).run_once()  # due then, not before
    [message] = sink.messages()
    assert message["To"] == "hanako@example.org"
    assert message["Subject"] == "【柏市立図書館】利用カードの有効期限が近づいています"
    assert services.settings.profile.library.sender_email in message["From"]
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert card.user_number in str(text.get_content())
    assert f'href="{BASE_URL}/my"' in str(html.get_content())
