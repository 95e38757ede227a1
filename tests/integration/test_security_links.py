"""One-time link tokens on both engines: single use, expiry, purpose, hashing, binding."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select, text

from cardservice.security.links import (
    LinkInvalid,
    LinkPurpose,
    consume,
    issue,
    peek,
    purge_links,
)
from cardservice.security.models import LinkToken
from cardservice.services import Services

DAY = timedelta(hours=24)
EMAIL = "hanako@example.org"


async def _issue(services: Services, purpose: LinkPurpose = LinkPurpose.VERIFY_EMAIL) -> str:
    async with services.db.transaction() as session:
        return await issue(session, purpose, EMAIL, DAY)


async def _consume(
    services: Services,
    token: str,
    purpose: LinkPurpose = LinkPurpose.VERIFY_EMAIL,
    bound_to: str | None = None,
) -> LinkToken:
    async with services.db.transaction() as session:
        return await consume(session, purpose, token, bound_to=bound_to)


async def _refusal(services: Services, token: str, **kwargs: object) -> str:
    with pytest.raises(LinkInvalid) as caught:
        await _consume(services, token, **kwargs)  # type: ignore[arg-type]
    return caught.value.code


async def test_token_has_256_bits_and_consumes_once(services: Services) -> None:
    token = await _issue(services)
    assert len(token) == 43  # token_urlsafe(32): 256 random bits
    row = await _consume(services, token)
    assert (row.purpose, row.subject) == ("verify_email", EMAIL)
    assert row.used_at is not None
    assert await _refusal(services, token) == "link_used"


async def test_concurrent_uses_exactly_one_succeeds(services: Services) -> None:
    token = await _issue(services)
    results = await asyncio.gather(
        *(_consume(services, token) for _ in range(4)), return_exceptions=True
    )
    succeeded = [r for r in results if isinstance(r, LinkToken)]
    refused = [r for r in results if isinstance(r, LinkInvalid)]
    assert len(succeeded) == 1, results
    assert [r.code for r in refused] == ["link_used"] * 3


async def test_expires_by_travelling_in_time(services: Services) -> None:
    start = datetime(2030, 1, 1, 9, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        token = await _issue(services)
        late = await _issue(services)
    with time_machine.travel(start + DAY - timedelta(seconds=1), tick=False):
        await _consume(services, token)
    with time_machine.travel(start + DAY, tick=False):
        assert await _refusal(services, late) == "link_expired"


async def test_a_token_never_validates_for_another_purpose(services: Services) -> None:
    token = await _issue(services, LinkPurpose.INQUIRY_ANSWER)
    for other in (LinkPurpose.VERIFY_EMAIL, LinkPurpose.STAFF_INVITE):
        assert await _refusal(services, token, purpose=other) == "link_wrong_purpose"
    # Trying the wrong purpose did not spend it.
    await _consume(services, token, purpose=LinkPurpose.INQUIRY_ANSWER)


async def test_unknown_and_garbage_tokens(services: Services) -> None:
    await _issue(services)
    for garbage in ("", "x" * 43, "😀" * 10_000):
        assert await _refusal(services, garbage) == "link_unknown"


async def test_only_the_hash_is_stored(services: Services) -> None:
    token = await _issue(services)
    async with services.db.transaction() as session:
        rows = (await session.execute(text("SELECT * FROM link_tokens"))).all()
    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0])
    assert token not in stored
    assert token[:16] not in stored


async def test_peek_does_not_consume(services: Services) -> None:
    token = await _issue(services)
    async with services.db.transaction() as session:
        seen = await peek(session, LinkPurpose.VERIFY_EMAIL, token)
        assert seen.used_at is None
        with pytest.raises(LinkInvalid) as caught:
            await peek(session, LinkPurpose.PASSWORD_RESET, token)
        assert caught.value.code == "link_wrong_purpose"
    await _consume(services, token)
    async with services.db.transaction() as session:
        with pytest.raises(LinkInvalid) as caught:
            await peek(session, LinkPurpose.VERIFY_EMAIL, token)
    assert caught.value.code == "link_used"


async def test_issue_and_consume_in_one_session_see_the_use(services: Services) -> None:
    async with services.db.transaction() as session:
        token = await issue(session, LinkPurpose.VERIFY_EMAIL, EMAIL, DAY)
        row = await consume(session, LinkPurpose.VERIFY_EMAIL, token)
        assert row.used_at is not None
        stored = await session.scalar(select(LinkToken.used_at))
        assert stored is not None


async def test_reset_link_dies_when_the_password_changes(services: Services) -> None:
    old_hash = "$argon2id$v=19$m=47104,t=2,p=1$old"
    async with services.db.transaction() as session:
        token = await issue(session, LinkPurpose.PASSWORD_RESET, EMAIL, DAY, bound_to=old_hash)
        spare = await issue(session, LinkPurpose.PASSWORD_RESET, EMAIL, DAY, bound_to=old_hash)
    purpose = LinkPurpose.PASSWORD_RESET
    # The password changed (through the first link, or any other way): the spare is dead.
    new_hash = "$argon2id$v=19$m=47104,t=2,p=1$new"
    assert await _refusal(services, spare, purpose=purpose, bound_to=new_hash) == "link_superseded"
    assert await _refusal(services, spare, purpose=purpose) == "link_superseded"
    row = await _consume(services, token, purpose=purpose, bound_to=old_hash)
    assert row.binding is not None
    assert old_hash not in row.binding


async def test_reset_links_must_be_bound(services: Services) -> None:
    async with services.db.transaction() as session:
        with pytest.raises(ValueError, match="bound"):
            await issue(session, LinkPurpose.PASSWORD_RESET, EMAIL, DAY)
        with pytest.raises(ValueError, match="bound"):
            await issue(session, LinkPurpose.VERIFY_EMAIL, EMAIL, DAY, bound_to="x")


async def test_purge_keeps_recent_links(services: Services) -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    async with services.db.transaction() as session:
        await issue(session, LinkPurpose.VERIFY_EMAIL, EMAIL, DAY, now=start)
        await issue(session, LinkPurpose.VERIFY_EMAIL, EMAIL, DAY * 10, now=start)
    async with services.db.transaction() as session:
        removed = await purge_links(session, older_than=DAY, now=start + DAY * 3)
        assert removed == 1
        assert len((await session.scalars(select(LinkToken))).all()) == 1
