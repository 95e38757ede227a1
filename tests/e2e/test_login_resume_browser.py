"""A real browser against the real server: a reviewer's rejection reason, typed while their
login ran out, comes back as typed once they log in again (``web/resume.py``), with
JavaScript (``static/resume.js`` sends the kept form at once) and without it (the resume
page's button). Nothing is done until they send the form again.

The login is ended as it ends for real: the reviewer's password is changed meanwhile, so the
session cookie the browser holds no longer holds. Screenshots go to
``test-artifacts/resume-*.png``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from cardservice.db.engine import Database
from cardservice.staff.models import StaffUser
from cardservice.staff.service import set_staff_password
from tests.e2e.support import ARTIFACTS, E2E_MARKS, Server, chromium, server_services, start_server
from tests.registration_flow import submitted_application

pytestmark = E2E_MARKS

REASON = "裏面の住所が読み取れません。\n住所が写るように撮り直してください。"


async def _applications(server: Server, data_dir: Path) -> list[str]:
    services = server_services(server, data_dir)
    try:
        return [await submitted_application(services, f"resume{i}@example.org") for i in range(2)]
    finally:
        await services.close()


async def _change_password(database_url: str, password: str) -> None:
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            user = await session.get(StaffUser, 1)
            assert user is not None
            await set_staff_password(session, user, password, actor_id=None)
    finally:
        await db.dispose()


def _set_password(server: Server, password: str) -> None:
    """The reviewer's password, set from another thread: Playwright's sync API runs an event
    loop in this one."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _change_password(server.database_url, password)).result()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, list[str]]]:
    tmp = tmp_path_factory.mktemp("resume")
    with contextmanager(start_server)(tmp, profile="yokohama") as server:
        yield server, asyncio.run(_applications(server, tmp / "data"))


@pytest.fixture(scope="module")
def browser(prepared: tuple[Server, list[str]]) -> Iterator[Browser]:
    """After the server: starting it runs an event loop, which Playwright's would block."""
    del prepared
    with chromium() as launched:
        yield launched


def _status(server: Server, public_id: str) -> str:
    with sqlite3.connect(server.database_url.split("///", 1)[1]) as db:
        (status,) = db.execute(
            "SELECT status FROM applications WHERE public_id = ?", (public_id,)
        ).fetchone()
    return str(status)


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_a_reason_typed_while_the_login_ran_out_comes_back(
    browser: Browser, prepared: tuple[Server, list[str]], javascript: bool
) -> None:
    server, applications = prepared
    public_id = applications[0 if javascript else 1]
    name = "js" if javascript else "nojs"
    password, new_password = f"lantern-{name}-before-2026", f"lantern-{name}-after-2026"
    _set_password(server, password)
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=javascript
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(f"{server.url}/staff/login")
    page.get_by_label("ユーザー名").fill("sato")
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("職員ホーム")
    page.goto(f"{server.url}/staff/applications/{public_id}")
    page.locator("#text").fill(REASON)

    _set_password(server, new_password)
    page.get_by_role("button", name="この申請をお断りする").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("職員ログイン")
    expect(page.get_by_role("status")).to_contain_text("ログインの有効期限が切れていたため")
    page.screenshot(path=str(ARTIFACTS / f"resume-{name}-1-login.png"), full_page=True)
    assert _status(server, public_id) == "submitted"

    page.get_by_label("ユーザー名").fill("sato")
    page.get_by_label("パスワード").fill(new_password)
    page.get_by_role("button", name="ログイン").click()
    if not javascript:
        expect(page.get_by_role("heading", level=1)).to_have_text("ログインしました")
        page.screenshot(path=str(ARTIFACTS / f"resume-{name}-2-resume.png"), full_page=True)
        page.get_by_role("button", name="入力画面に戻る").click()
    expect(page.locator("#text")).to_have_value(REASON)
    page.screenshot(path=str(ARTIFACTS / f"resume-{name}-3-form.png"), full_page=True)
    assert _status(server, public_id) == "submitted"
    assert problems == []
    context.close()
