"""Migration 0010 on both engines: the revocation feed starts with the revocations and
suspensions already in the database, and new changes follow them in order."""

from __future__ import annotations

from datetime import date

from alembic import command
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from cardservice.cards.feed_log import FeedEntry
from cardservice.cards.models import RevocationReason
from cardservice.cards.service import CardPolicy, get_card, revoke_card, set_suspended
from cardservice.db.engine import Database
from cardservice.db.migrate import alembic_config, upgrade
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.profiles import load_profile
from tests.integration.test_registration_migration import fresh_url  # noqa: F401  # a fixture

POLICY = CardPolicy.of(load_profile("example"))


async def _cards(database: Database) -> tuple[str, str, str, str]:
    numbers = []
    async with database.transaction() as session:
        for email in ("a@example.org", "b@example.org", "c@example.org"):
            card = await create_patron_with_card(
                session,
                NewPatron(
                    family_name="山田",
                    given_name="花子",
                    family_kana="やまだ",
                    given_kana="はなこ",
                    birth_date=date(1990, 4, 1),
                    email=email,
                ),
                POLICY,
            )
            numbers.append(card)
        revoked, suspended, active = numbers
        await revoke_card(session, revoked, RevocationReason.LOST, POLICY)
        set_suspended(suspended, "staff_hold")
        return revoked.user_number, revoked.token_jti, suspended.user_number, active.user_number


async def _feed(database: Database) -> list[tuple[int, str, str, str, str | None]]:
    async with database.transaction() as session:
        rows = await session.execute(
            select(
                FeedEntry.seq, FeedEntry.kind, FeedEntry.subject, FeedEntry.state, FeedEntry.reason
            ).order_by(FeedEntry.seq)
        )
        return [tuple(row) for row in rows.all()]  # type: ignore[misc]


async def test_the_feed_starts_with_todays_revocations(fresh_url: str) -> None:  # noqa: F811
    await upgrade(fresh_url)
    database = Database(fresh_url)
    try:
        revoked, jti, suspended, active = await _cards(database)
        await database.dispose()
        # Back to before the feed (this branch only), and up again: the backfill runs.
        await _downgrade(fresh_url, "0010@0006")
        await upgrade(fresh_url)
        database = Database(fresh_url)
        backfilled = await _feed(database)
        assert sorted(row[1:] for row in backfilled) == sorted(
            [
                ("number", revoked, "revoked", "lost"),
                ("number", suspended, "suspended", "staff_hold"),
                ("token", jti, "revoked", "lost"),
            ]
        )
        assert [row[0] for row in backfilled] == [1, 2, 3]
        # The next change takes the next seq.
        async with database.transaction() as session:
            set_suspended(await get_card(session, active), "staff_hold")
        assert (await _feed(database))[-1] == (4, "number", active, "suspended", "staff_hold")
    finally:
        await database.dispose()


async def _downgrade(url: str, revision: str) -> None:
    engine = Database(url).engine if url.startswith("sqlite") else create_async_engine(url)

    def run(connection: object) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await engine.dispose()
