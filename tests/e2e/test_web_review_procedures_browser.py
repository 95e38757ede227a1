"""A real browser at phone size: a reviewer works a lost-card reissue made without login
(picks the patron, confirms, approves) and reads a name change, a renewal and a change of
address. Every page fits the 390px screen; screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect

from cardservice.profiles import load_profile
from cardservice.services import Services
from cardservice.settings import Settings
from tests.e2e.support import E2E_MARKS, Phone, Server, chromium, phone_context, start_server
from tests.integration.test_review_procedures import (
    OUTSIDE,
    procedure_application,
    registered_patron,
)
from tests.web_support import STAFF_PASSWORD

pytestmark = E2E_MARKS


async def _prepare(server: Server, data_dir: Path) -> dict[str, str]:
    """A registered patron and four procedures waiting for review; their public ids."""
    settings = Settings.from_env(
        {},
        data_dir=data_dir,
        database_url=server.database_url,
        profile=load_profile("kashiwa"),
        base_url=server.url,
        mail_catcher_port=server.catcher_port,
    )
    services = Services.build(settings)
    try:
        card = await registered_patron(services)
        return {
            "lost": await procedure_application(services, "reissue", patron_id=None, reason="lost"),
            "name": await procedure_application(
                services,
                "reissue",
                patron_id=card.patron_id,
                reason="name_changed",
                family_name="佐藤",
                family_kana="サトウ",
            ),
            "renewal": await procedure_application(services, "renewal", patron_id=card.patron_id),
            "change": await procedure_application(
                services, "change", patron_id=card.patron_id, street="千代田1-1", **OUTSIDE
            ),
        }
    finally:
        await services.close()


@pytest.fixture
def prepared(tmp_path: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    with contextmanager(start_server)(tmp_path, profile="kashiwa") as server:
        yield server, asyncio.run(_prepare(server, tmp_path / "data"))


def test_a_reviewer_picks_the_patron_and_approves_a_lost_card_reissue(
    prepared: tuple[Server, dict[str, str]],
) -> None:
    server, ids = prepared
    with chromium() as browser:
        phone = Phone(phone_context(browser).new_page(), server)
        page = phone.page
        phone.goto("/staff/login?lang=en")
        page.get_by_label("Username").fill("sato")
        page.get_by_label("Password").fill(STAFF_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("link", name="Application queue").click()
        expect(page.locator(".queue-item")).to_have_count(4)
        expect(page.get_by_text("Patron to be identified")).to_have_count(1)
        phone.shot("review-procedures-01-queue")

        page.locator(f"a[href='/staff/applications/{ids['lost']}']").click()
        expect(page.get_by_role("heading", name="Who the application is for")).to_be_visible()
        expect(
            page.get_by_role("button", name="Approve and reissue with a new number")
        ).to_be_disabled()
        phone.shot("review-procedures-02-lost-unlinked")

        page.locator("input[name=patron_id]").first.check()
        page.get_by_role("button", name="This is the patron").click()
        expect(page.get_by_role("status")).to_contain_text("linked to the patron you chose")
        phone.shot("review-procedures-03-lost-linked")

        page.get_by_label("I have checked the identity document against the details above").check()
        page.once("dialog", lambda dialog: dialog.accept())  # the confirmation dialog
        page.get_by_role("button", name="Approve and reissue with a new number").click()
        # The next application in the queue opens, saying what was done to this one.
        expect(page.get_by_role("status")).to_contain_text("A new user number is issued")
        expect(page.get_by_role("status")).to_contain_text("the next application in the queue")
        page.locator(".notice.decided a").click()
        expect(page.get_by_text("Previous user number (revoked)")).to_be_visible()
        phone.shot("review-procedures-04-lost-approved")

        for name in ("name", "renewal", "change"):
            phone.goto(f"/staff/applications/{ids[name]}?lang=ja")
            expect(page.get_by_role("heading", name="この手続きの確認事項")).to_be_visible()
            phone.shot(f"review-procedures-05-{name}")
        expect(page.get_by_text("オンライン登録の対象外です。")).to_be_visible()
    assert phone.problems == []
