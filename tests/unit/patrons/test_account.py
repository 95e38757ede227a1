"""The account rules without HTTP, on both engines: email choices, the order of password
change errors, the current password counting as a login, and remembered devices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cardservice.patrons import devices
from cardservice.patrons.account import (
    NOTIFICATION_KEYS,
    PasswordChange,
    PasswordsDiffer,
    change_password,
    notification_choices,
    save_notifications,
)
from cardservice.patrons.login import LoginLimits, PatronBadCredentials, PatronLoginLimited
from cardservice.patrons.models import Patron
from cardservice.registration.form import Notifications
from cardservice.security import passwords
from cardservice.security.passwords import PasswordRejected
from cardservice.services import Services
from tests.unit.patrons.support import NEW_PASSWORD, PASSWORD, mails, make_patron, patron

T0 = datetime(2030, 1, 1, 9, tzinfo=UTC)


def test_notification_keys_are_the_application_forms() -> None:
    assert tuple(Notifications.__dataclass_fields__) == NOTIFICATION_KEYS


async def test_choices_default_off_and_save_only_known_keys(services: Services) -> None:
    card = await make_patron(services)
    async with services.db.transaction() as session:
        stored = await session.get(Patron, card.patron_id)
        assert stored is not None
        assert notification_choices(stored) == {
            key: key == "expiry_near" for key in NOTIFICATION_KEYS
        }
        await save_notifications(session, stored, {"overdue": True, "reading_history": True})
    assert (await patron(services, card.patron_id)).notifications == {
        key: key == "overdue" for key in NOTIFICATION_KEYS
    }


async def _change(services: Services, stored: Patron, change: PasswordChange) -> Patron:
    return await change_password(
        services.db,
        stored,
        change,
        profile=services.settings.profile,
        base_url="https://cards.example.org",
        language="ja",
        client="192.0.2.1",
        limits=LoginLimits(per_account=2, per_client=100),
    )


async def test_password_change_errors_come_in_order(services: Services) -> None:
    card = await make_patron(services)
    stored = await patron(services, card.patron_id)
    with pytest.raises(PatronBadCredentials):
        await _change(services, stored, PasswordChange(current="wrong", new="a", again="b"))
    with pytest.raises(PasswordsDiffer) as differ:
        await _change(services, stored, PasswordChange(current=PASSWORD, new="a", again="b"))
    assert differ.value.detail == {"field": "new_password_again"}
    with pytest.raises(PasswordRejected):
        await _change(services, stored, PasswordChange(current=PASSWORD, new="a", again="a"))
    assert (await patron(services, card.patron_id)).password_hash == stored.password_hash
    assert await mails(services, "password_changed") == []


async def test_wrong_current_passwords_count_as_failed_logins(services: Services) -> None:
    card = await make_patron(services)
    stored = await patron(services, card.patron_id)
    ok = PasswordChange(current=PASSWORD, new=NEW_PASSWORD, again=NEW_PASSWORD)
    for _ in range(2):
        with pytest.raises(PatronBadCredentials):
            await _change(services, stored, PasswordChange(current="x", new="y", again="y"))
    with pytest.raises(PatronLoginLimited):
        await _change(services, stored, ok)


async def test_a_change_ends_devices_and_sends_a_notice(services: Services) -> None:
    card = await make_patron(services)
    stored = await patron(services, card.patron_id)
    async with services.db.transaction() as session:
        remembered = await devices.remember(session, stored, days=90, now=T0)
    changed = await _change(
        services, stored, PasswordChange(current=PASSWORD, new=NEW_PASSWORD, again=NEW_PASSWORD)
    )
    assert (await passwords.verify_password(changed.password_hash or "", NEW_PASSWORD)).ok
    async with services.db.transaction() as session:
        assert await devices.resume(session, remembered.token, days=90, now=T0) is None
    [notice] = await mails(services, "password_changed")
    assert "https://cards.example.org/password/forgot" in notice.body_text


async def test_devices_roll_and_end(services: Services) -> None:
    card = await make_patron(services)
    stored = await patron(services, card.patron_id)
    async with services.db.transaction() as session:
        first = await devices.remember(session, stored, days=30, now=T0)
        second = await devices.remember(session, stored, days=30, now=T0)
    assert first.token != second.token
    async with services.db.transaction() as session:
        later = T0 + timedelta(days=29)
        resumed = await devices.resume(session, first.token, days=30, now=later)
        assert resumed is not None
        assert resumed[0].id == card.patron_id
        assert resumed[1].expires_at == later + timedelta(days=30)
        await devices.forget(session, first.token)
        assert await devices.resume(session, first.token, days=30, now=later) is None
        # The second was not used: its 30 days ran out.
        assert (
            await devices.resume(session, second.token, days=30, now=later + timedelta(days=2))
            is None
        )
        assert await devices.resume(session, "", days=30, now=later) is None


async def test_a_password_changed_elsewhere_ends_devices(services: Services) -> None:
    card = await make_patron(services)
    stored = await patron(services, card.patron_id)
    async with services.db.transaction() as session:
        remembered = await devices.remember(session, stored, days=30, now=T0)
        row = await session.get(Patron, card.patron_id)
        assert row is not None
        row.password_hash = await passwords.hash_password(NEW_PASSWORD)  # say, by an import
    async with services.db.transaction() as session:
        assert await devices.resume(session, remembered.token, days=30, now=T0) is None
