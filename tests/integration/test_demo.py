"""``cardservice demo``'s sample data: made once, printed on every start, and usable."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from sqlalchemy import select

from cardservice.calendar import local_today
from cardservice.demo import (
    DEMO_ADMIN,
    DEMO_EMAIL,
    DEMO_PATRON_PASSWORD,
    DEMO_REVIEWER,
    prepare_demo,
)
from cardservice.patrons.models import Patron
from cardservice.registration.form import Procedure
from cardservice.registration.procedures import availability
from cardservice.security.passwords import verify_password
from cardservice.services import Services
from cardservice.staff.service import authenticate
from tests.cli_support import get, serving


async def test_demo_data_is_made_once_and_works(services: Services) -> None:
    settings = services.settings
    first = "\n".join(await prepare_demo(settings))
    second = "\n".join(await prepare_demo(settings))
    assert first == second  # the same card, key and reviewer password every start

    found = re.search(rf"as {DEMO_REVIEWER} / (\S+)", first)
    assert found is not None, first
    reviewer = await authenticate(services.db, DEMO_REVIEWER, found.group(1))
    assert reviewer.role == "reviewer"
    secret_file = settings.data_dir / "demo-reviewer-password"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    # An administrator too, for the audit log, notices and rejection templates.
    found = re.search(rf"as {DEMO_ADMIN} / (\S+)", first)
    assert found is not None, first
    admin = await authenticate(services.db, DEMO_ADMIN, found.group(1))
    assert admin.role == "admin"
    assert stat.S_IMODE((settings.data_dir / "demo-admin-password").stat().st_mode) == 0o600

    async with services.db.transaction() as session:
        patrons = list(await session.scalars(select(Patron).where(Patron.email == DEMO_EMAIL)))
    assert len(patrons) == 1
    assert patrons[0].password_hash is not None
    # At the profile's sample address, so a change of details can change one thing.
    assert (patrons[0].postal_code, patrons[0].city) == ("2310005", "横浜市中区")
    assert (await verify_password(patrons[0].password_hash, DEMO_PATRON_PASSWORD)).ok
    assert "/apply" in first
    assert "/staff/mail" in first


async def test_the_sample_card_can_be_renewed_at_once(services: Services) -> None:
    await prepare_demo(services.settings)
    async with services.db.transaction() as session:
        patron = await session.scalar(select(Patron).where(Patron.email == DEMO_EMAIL))
        assert patron is not None
        today = local_today(services.policy.timezone)
        (renewal,) = [
            found
            for found in await availability(session, patron, services.settings.profile, today)
            if found.procedure == Procedure.RENEWAL
        ]
    assert renewal.open


def test_the_demo_command_serves_on_the_port_it_is_given(tmp_path: Path) -> None:
    """`cardservice demo --port N` as a newcomer runs it: the links it prints, the pages and
    the token issuer are at port N, not 8000."""
    env = {"CARDSERVICE_DATA_DIR": str(tmp_path / "data"), "CARDSERVICE_LOG_LEVEL": "WARNING"}
    with serving(env, "demo") as server:
        status, page = get(f"{server.url}/apply")
        assert status == 200
        assert "<form" in page.decode()
        printed = server.log.read_text()
    assert f"open {server.url}/apply and enter any email address" in printed
    assert f"curl -s -X POST {server.url}/api/v1/verify" in printed
    assert ":8000" not in printed
