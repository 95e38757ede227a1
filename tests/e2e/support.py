"""What the browser tests share: the server as production starts it, and a phone screen.

The server runs in its own process (uvicorn, a fresh data directory with SQLite) with the
built-in mail catcher on a free port and one reviewer, ``sato``. Screenshots go to
``test-artifacts/`` for a person to look at. The tests are skipped only when Debian's
chromium is missing, unless CARDSERVICE_TEST_E2E=required.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from cardservice.db.engine import Database
from cardservice.db.migrate import upgrade
from cardservice.profiles import load_profile
from cardservice.services import Services
from cardservice.settings import Settings
from cardservice.staff.models import Role
from cardservice.staff.service import create_staff
from tests.web_support import STAFF_PASSWORD, free_port

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

E2E_MARKS = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("CARDSERVICE_TEST_E2E") != "required",
        reason="Debian's chromium is not installed (CARDSERVICE_TEST_E2E=required makes this fail)",
    ),
]


@dataclass(frozen=True)
class Server:
    url: str
    catcher_port: int
    database_url: str


async def _add_reviewer(database_url: str) -> None:
    await upgrade(database_url)
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            await create_staff(
                session, "sato", STAFF_PASSWORD, Role.REVIEWER, display_name="佐藤 花子"
            )
    finally:
        await db.dispose()


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as answer:  # noqa: S310  # our own local server
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start within 30 seconds")


def start_server(tmp_path: Path, *, profile: str = "example") -> Iterator[Server]:
    """The running server, with the reviewer ``sato``; stopped when the generator closes."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    database_url = f"sqlite+aiosqlite:///{data_dir / 'cardservice.db'}"
    asyncio.run(_add_reviewer(database_url))
    port, catcher_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "CARDSERVICE_MODE": "dev",
        "CARDSERVICE_DATA_DIR": str(data_dir),
        "CARDSERVICE_DATABASE_URL": database_url,
        "CARDSERVICE_BASE_URL": url,
        "CARDSERVICE_MAIL_CATCHER_PORT": str(catcher_port),
        "CARDSERVICE_SMTP_URL": "",
        "CARDSERVICE_PROFILE": profile,
    }
    command = [sys.executable, "-m", "uvicorn", "cardservice.app:serve_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, cwd=Path(__file__).resolve().parents[2])
    try:
        _wait_until_up(url, process)
        yield Server(url=url, catcher_port=catcher_port, database_url=database_url)
    finally:
        process.terminate()
        process.wait(timeout=15)


def server_services(server: Server, data_dir: Path, profile: str = "yokohama") -> Services:
    """The services of ``server`` (whose data directory is ``data_dir``), for a test to put
    what it needs in its database; the caller closes them."""
    settings = Settings.from_env(
        {},
        data_dir=data_dir,
        database_url=server.database_url,
        profile=load_profile(profile),
        base_url=server.url,
        mail_catcher_port=server.catcher_port,
    )
    return Services.build(settings)


class Phone:
    """A 390x844 phone screen that records every console error, page error and HTTP error."""

    def __init__(self, page: Page, server: Server) -> None:
        self.page = page
        self.server = server
        self.problems: list[str] = []
        # Console errors include every Content-Security-Policy violation.
        page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: self.problems.append(str(error)))
        page.on(
            "response",
            lambda r: self.problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )

    def goto(self, path: str) -> None:
        self.page.goto(f"{self.server.url}{path}")

    def shot(self, name: str) -> None:
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{name}: the page is {width}px wide on a 390px screen"
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def phone(server: Server) -> Iterator[Phone]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
        try:
            yield Phone(context.new_page(), server)
        finally:
            browser.close()


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def phone_context(browser: Browser) -> BrowserContext:
    """A 390x844 touch screen, as a patron's phone."""
    return browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )


# axe-core, from the npm package (`make test` installs it into .venv/axe; CARDSERVICE_AXE_JS
# names another copy). The script is evaluated through the DevTools protocol, which the
# pages' Content-Security-Policy does not govern, so the page itself stays unchanged.
AXE_JS = Path(
    os.environ.get("CARDSERVICE_AXE_JS")
    or Path(__file__).resolve().parents[2] / ".venv/axe/node_modules/axe-core/axe.min.js"
)
# WCAG 2.1 A and AA, plus axe's best practices (landmarks, one h1, headings in order).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def axe_source() -> str:
    """axe.min.js; a missing file fails the test with how to install it."""
    if not AXE_JS.is_file():
        pytest.fail(
            f"axe-core is not at {AXE_JS}: run `make test` (it installs the npm package axe-core "
            "into .venv/axe) or set CARDSERVICE_AXE_JS"
        )
    return AXE_JS.read_text(encoding="utf-8")


def add_axe(context: BrowserContext) -> BrowserContext:
    """Load axe-core into every page ``context`` opens from now on (once per context,
    instead of once per page in :func:`axe_violations`); returns ``context``."""
    context.add_init_script(script=axe_source())
    return context


def axe_violations(page: Page) -> list[str]:
    """Run axe-core on ``page`` as it is now; one line per violation: the rule, its impact,
    what it asks and the first few elements that break it (empty when there is none)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    found = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {
                runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
            return result.violations.map(v => `${v.id} (${v.impact}): ${v.help}: ` +
                v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | "));
        }""",
        AXE_TAGS,
    )
    return [str(line) for line in found]


def assert_accessible(page: Page, name: str = "") -> None:
    """Fail the test on any axe-core violation on ``page`` (``name`` says which page)."""
    violations = axe_violations(page)
    assert violations == [], f"{name or page.url}:\n" + "\n".join(violations)
