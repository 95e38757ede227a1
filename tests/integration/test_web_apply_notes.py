"""The notes before applying: a patron renewing, reissuing or changing details from My Library
reads the procedures' notes, not the new registration's "no need to apply again"; someone
coming through /apply reads both and agrees to the registration's version."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import time_machine

from cardservice.services import Services
from tests.card_support import sample_patron
from tests.integration.test_web_apply_procedures import IN_WINDOW, log_in, start
from tests.registration_flow import FRIDAY, load
from tests.web_apply_support import agree, applications, open_draft
from tests.web_support import Client, web_client, with_free_catcher_port


@pytest.fixture(params=["yokohama", "kashiwa"])
def profile_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(FRIDAY, tick=False) as traveller:
        yield traveller


async def test_a_patrons_renewal_reads_the_procedures_notes(
    client: Client, services: Services, clock: time_machine.Traveller
) -> None:
    profile = services.settings.profile
    card = await sample_patron(services)  # issued on FRIDAY
    clock.move_to(IN_WINDOW)
    await log_in(client, card)
    started = await start(client, "renewal")
    assert started.headers["location"] == "/apply/notes"
    page = await client.get("/apply/notes")
    assert profile.procedures.notes.ja in page.text
    assert profile.registration.notes.ja not in page.text
    assert 'id="notes-procedure"' in page.text
    assert f'value="{profile.procedures.notes_version}"' in page.text
    assert (await agree(client, services)).headers["location"] == "/apply/form"
    (app,) = await applications(services)
    assert (await load(services, app.public_id)).consent_version == (
        profile.procedures.notes_version
    )


async def test_an_applicant_through_the_email_link_reads_both(
    client: Client, services: Services
) -> None:
    profile = services.settings.profile
    await open_draft(client, services)
    page = await client.get("/apply/notes?lang=en")
    assert profile.registration.notes.en in page.text
    assert profile.procedures.notes.en in page.text
    assert "Renewal, reissue and change of details" in page.text
    start_page = await client.get("/apply?lang=en")
    assert "You do not need to register again" in start_page.text
    assert (await agree(client, services)).headers["location"] == "/apply/form"


async def test_the_form_gives_a_postal_code_of_the_librarys_own_city(
    client: Client, services: Services
) -> None:
    await open_draft(client, services)
    await agree(client, services)
    form = await client.get("/apply/form")
    example = services.settings.profile.library.sample_postal_code
    assert f"例：{example}" in form.text
    assert {"yokohama": "231-0005", "kashiwa": "277-0005"}[services.settings.profile.id] == (
        example
    )
