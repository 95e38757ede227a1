"""Applicants at once on one database: the pages that only read take no write lock, and
the password of a new registration is hashed before the form's write transaction opens.
(The figures, ten applicants at once, are printed by ``make bench-applicants``.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from cardservice.registration import applicant
from cardservice.security.passwords import prehash, verify_password
from cardservice.services import Services
from tests.registration_flow import FORMS, load, photo, request_and_open
from tests.web_apply_support import agree, fill_form, open_draft, upload
from tests.web_support import Client, web_client, with_free_catcher_port

# Far below the busy timeout (30 s) a page would wait for the writer before.
AT_ONCE = 10


@pytest.fixture
def profile_name() -> str:
    return "yokohama"


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


async def test_pages_that_read_answer_while_a_writer_holds_the_lock(
    client: Client, services: Services
) -> None:
    await open_draft(client, services)
    assert (await agree(client, services)).status_code == 303
    assert (await fill_form(client, services)).status_code == 303
    assert (await upload(client, "health_insurance", "front", photo())).status_code == 303
    async with services.db.transaction() as session:
        # On SQLite this takes the database's one write lock, as an upload or a form
        # being saved by another applicant would.
        await session.execute(text("UPDATE rate_counters SET hits = hits"))
        await session.execute(
            text(
                "INSERT INTO api_keys (name, prefix, key_hash, created_at) "
                "VALUES ('w', 'csk_', 'w', CURRENT_TIMESTAMP)"
            )
        )
        async with asyncio.timeout(AT_ONCE):
            for path in ("/apply/notes", "/apply/form", "/apply/documents", "/apply/review"):
                page = await client.get(path)
                assert page.status_code == 200, (path, page.text)


async def test_the_password_is_hashed_before_the_transaction(services: Services) -> None:
    profile = services.settings.profile
    form = FORMS[profile.id]
    public_id = await request_and_open(services)
    app = await load(services, public_id)
    prehashed = await applicant.hash_ahead(app, form, profile)
    assert prehashed is not None
    async with services.db.transaction() as session:
        draft = await applicant.get_application(session, public_id)
        await applicant.save_form(session, draft, form, profile=profile, prehashed=prehashed)
    # Stored as made ahead: nothing was hashed while the write lock was held.
    assert (await load(services, public_id)).password_hash == prehashed.hash


async def test_a_hash_made_ahead_for_another_password_is_not_stored(
    services: Services,
) -> None:
    profile = services.settings.profile
    form = FORMS[profile.id]
    public_id = await request_and_open(services)
    other = await prehash("another password 2026")
    async with services.db.transaction() as session:
        draft = await applicant.get_application(session, public_id)
        await applicant.save_form(session, draft, form, profile=profile, prehashed=other)
    stored = (await load(services, public_id)).password_hash or ""
    assert stored != other.hash
    assert (await verify_password(stored, form["password"])).ok


async def test_nothing_is_hashed_ahead_for_a_refused_password_or_another_procedure(
    services: Services,
) -> None:
    profile = services.settings.profile
    app = await load(services, await request_and_open(services))
    refused = {**FORMS[profile.id], "password": "short"}
    assert await applicant.hash_ahead(app, refused, profile) is None
    reissue = {**FORMS[profile.id], "procedure": "reissue"}
    assert await applicant.hash_ahead(app, reissue, profile) is None
