"""A real browser against the real server: a reviewer works the queue on a phone and on a
desktop screen, sees the ID images and the duplicate, and approves.

Screenshots go to ``test-artifacts/`` for a person to look at.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from cardservice.registration import applicant, review
from cardservice.staff.models import Role
from cardservice.staff.service import create_staff
from tests.e2e.support import (
    ARTIFACTS,
    E2E_MARKS,
    Phone,
    Server,
    chromium,
    phone_context,
    server_services,
    start_server,
)
from tests.registration_flow import submitted_application
from tests.web_support import STAFF_PASSWORD

pytestmark = E2E_MARKS


async def _prepare(server: Server, data_dir: Path) -> None:
    """An approved application and a second one from the same person, waiting for review
    (the migrations have seeded the rejection templates)."""
    services = server_services(server, data_dir)
    try:
        # Both before the approval: Yokohama turns away a card holder's new registration.
        earlier = await submitted_application(services, "earlier@example.org")
        await submitted_application(services)
        async with services.db.transaction() as session:
            staff = await create_staff(session, "approver", "approve the applicant", Role.ADMIN)
            app = await applicant.get_application(session, earlier)
            await review.approve(
                session,
                app,
                staff,
                services.policy,
                profile=services.settings.profile,
                base_url=server.url,
            )
    finally:
        await services.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with contextmanager(start_server)(tmp_path, profile="yokohama") as server:
        asyncio.run(_prepare(server, tmp_path / "data"))
        yield server


def _log_in(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/staff/login?lang=en")
    page.get_by_label("Username").fill("sato")
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff home")


_LOADED_IMAGES = (
    "Array.from(document.querySelectorAll('img.id-image'))"
    ".filter(i => i.complete && i.naturalWidth > 0).length"
)


def _images_loaded(page: Page, expected: int) -> int:
    """How many ID images have loaded, once ``expected`` have or the wait times out."""
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(f"{_LOADED_IMAGES} >= {expected}", timeout=10_000)
    return int(page.evaluate(_LOADED_IMAGES))


def test_review_on_a_phone_and_a_desktop(server: Server) -> None:
    with chromium() as browser:
        phone = Phone(phone_context(browser).new_page(), server)
        page = phone.page
        _log_in(page, server)
        page.get_by_role("link", name="Application queue").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Application queue")
        expect(page.locator(".queue-item")).to_have_count(1)
        phone.shot("review-01-queue")

        page.locator(".queue-item a").click()
        expect(page.get_by_role("heading", name="Possible duplicates")).to_be_visible()
        page.wait_for_load_state("networkidle")
        assert _images_loaded(page, 2) == 2
        phone.shot("review-02-application")

        desktop = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
        _log_in(desktop, server)
        desktop.goto(page.url)
        desktop.wait_for_load_state("networkidle")
        assert _images_loaded(desktop, 2) == 2
        ARTIFACTS.mkdir(exist_ok=True)
        desktop.screenshot(
            path=str(ARTIFACTS / "review-03-application-desktop.png"), full_page=True
        )

        # The approval asks for a confirmation first: without it the browser will not send.
        page.get_by_role("button", name="Approve and issue the card").click()
        expect(page.get_by_role("status")).to_have_count(0)
        page.get_by_label("I have checked the identity document against the details above").check()
        # Then a dialog asks again: dismissed, nothing is sent.
        asked: list[str] = []

        def answer(dialog: Dialog, *, accept: bool) -> None:
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        page.once("dialog", lambda dialog: answer(dialog, accept=False))
        page.get_by_role("button", name="Approve and issue the card").click()
        expect(page.get_by_role("status")).to_have_count(0)
        assert len(asked) == 1
        assert asked[0].startswith("Approve the application of 山田 花子?")
        page.once("dialog", lambda dialog: answer(dialog, accept=True))
        page.get_by_role("button", name="Approve and issue the card").click()
        # Nothing else waits: the queue says what was done, and to which application.
        expect(page.get_by_role("heading", level=1)).to_have_text("Application queue")
        expect(page.get_by_role("status")).to_contain_text("User number:")
        expect(page.get_by_role("status")).to_contain_text("No application is left in the queue.")
        assert len(asked) == 2
        phone.shot("review-04-approved")
        page.locator(".notice.decided a").click()
        expect(page.locator(".outcome-approved")).to_be_visible()
        expect(page.locator("#history")).to_contain_text("Approval")
        phone.shot("review-04b-approved-application")

        page.goto(f"{server.url}/staff/rejection-templates")
        expect(page.get_by_text("Only administrators can change the templates.")).to_be_visible()
        phone.shot("review-05-templates")
    assert phone.problems == []
