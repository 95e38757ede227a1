"""axe-core on every page, in Japanese and English, on a 390x844 phone screen.

The pages come from the route table (tests/page_sweep.py), so a new page is checked without
a change here. Staff pages are opened by an administrator, My Library and the card by a
logged-in patron, the rest by a visitor who is not logged in; each in both languages. Any
axe-core violation (WCAG 2.1 A/AA and best practices) fails the test, and so does an ISO
date or, in Japanese, an ASCII colon or parenthesis in the text the browser renders. One
server, one browser.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext

from cardservice.app import create_app
from cardservice.profiles import load_profile
from cardservice.services import Services
from cardservice.settings import Settings
from cardservice.staff.models import Role
from tests.e2e.support import (
    E2E_MARKS,
    Server,
    add_axe,
    assert_accessible,
    axe_violations,
    chromium,
    phone_context,
    start_server,
)
from tests.page_sweep import fill, page_paths, text_problems, visitor_of
from tests.unit.patrons.support import PASSWORD, make_patron
from tests.web_support import STAFF_PASSWORD, make_staff

pytestmark = E2E_MARKS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("a11y"))


def _settings(server: Server) -> Settings:
    data_dir = Path(server.database_url.removeprefix("sqlite+aiosqlite:///")).parent
    return Settings.from_env(
        {},
        data_dir=data_dir,
        database_url=server.database_url,
        profile=load_profile(os.environ.get("CARDSERVICE_PROFILE", "example")),
        base_url=server.url,
    )


async def _seed(settings: Settings) -> dict[str, str]:
    """An administrator and a patron with a card, in the running server's database."""
    services = Services.build(settings)
    try:
        await make_staff(services, "admin", Role.ADMIN, display_name="管理 太郎")
        card = await make_patron(services)
    finally:
        await services.close()
    return {"patron_id": str(card.patron_id), "card_id": str(card.id), "action": "suspend"}


def _log_in(context: BrowserContext, server: Server, who: str) -> None:
    page = context.new_page()
    if who == "admin":
        page.goto(f"{server.url}/staff/login")
        page.fill("#username", "admin")
        page.fill("#password", STAFF_PASSWORD)
    else:
        page.goto(f"{server.url}/login")
        page.fill("#login", "hanako@example.org")
        page.fill("#password", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_load_state()
    page.close()


def test_every_page_passes_axe_in_both_languages(server: Server) -> None:
    settings = _settings(server)
    values = asyncio.run(_seed(settings))
    paths = page_paths(create_app(settings, mail=False, jobs=False))
    report: list[str] = []
    checked = 0
    with chromium() as browser:
        contexts = {
            who: add_axe(phone_context(browser)) for who in ("anonymous", "patron", "admin")
        }
        _log_in(contexts["patron"], server, "patron")
        _log_in(contexts["admin"], server, "admin")
        pages = {who: context.new_page() for who, context in contexts.items()}
        for path in paths:
            for who in visitor_of(path):
                context, page = contexts[who], pages[who]
                for lang in ("ja", "en"):
                    url = f"{server.url}{fill(path, values)}?lang={lang}"
                    head = context.request.get(url, max_redirects=5)
                    if "text/html" not in head.headers.get("content-type", ""):
                        continue
                    page.goto(url)
                    checked += 1
                    report += [f"{who} {url}: {v}" for v in axe_violations(page)]
                    rendered = page.content()
                    report += [f"{who} {url}: {p}" for p in text_problems(rendered, lang)]
        # The check does fail on a page that breaks a rule: an image without a text alternative.
        page = pages["anonymous"]
        page.goto(f"{server.url}/?lang=ja")
        assert_accessible(page, "home")
        page.evaluate(
            "() => { const i = document.createElement('img'); i.src = '/static/none.png';"
            " document.querySelector('main').appendChild(i); }"
        )
        broken = axe_violations(page)
        for context in contexts.values():
            context.close()
    assert any(line.startswith("image-alt ") for line in broken), broken
    assert checked > 40, checked
    assert report == [], "\n".join(report)
