"""Two dev instances on one machine, each started as an operator starts it (`cardservice serve
--port N`, no base URL, no mail server): each catches its own mail, with links to its own
port, whether the catcher port is left free or both ask for the same one."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from cardservice.db.engine import Database
from cardservice.mail.catcher import extract_links
from cardservice.mail.models import CaughtMail
from tests.cli_support import Server, free_port, serving
from tests.web_support import csrf_from

# One SQLite database in each instance's data directory: the catcher and the base URL do not
# depend on the engine, and two instances need two databases.


def _caught(data_dir: Path) -> list[tuple[list[str], list[str]]]:
    """(recipients, links) of each message the instance's catcher stored."""

    async def read() -> list[tuple[list[str], list[str]]]:
        db = Database(f"sqlite+aiosqlite:///{data_dir / 'cardservice.db'}")
        try:
            async with db.transaction() as session:
                rows = await session.scalars(select(CaughtMail).order_by(CaughtMail.id))
                return [(mail.recipients, extract_links(mail)) for mail in rows]
        finally:
            await db.dispose()

    return asyncio.run(read())


def _apply(server: Server, email: str) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        form = browser.get("/apply")
        sent = browser.post("/apply", data={"email": email, "_csrf_token": csrf_from(form.text)})
        assert sent.status_code == 303, sent.text


def _wait_for_mail(data_dir: Path) -> list[tuple[list[str], list[str]]]:
    for _ in range(150):
        caught = _caught(data_dir)
        if caught:
            return caught
        time.sleep(0.1)
    raise AssertionError(f"no mail reached the catcher of {data_dir}")


@contextmanager
def two_instances(tmp_path: Path, catcher_port: int) -> Iterator[list[Server]]:
    """The first with one worker, the second with two, both asking for ``catcher_port``."""
    with ExitStack() as stack:
        started = []
        for name, workers in (("first", "1"), ("second", "2")):
            env = {
                "CARDSERVICE_DATA_DIR": str(tmp_path / name / "data"),
                "CARDSERVICE_MODE": "dev",
                "CARDSERVICE_BASE_URL": "",
                "CARDSERVICE_SMTP_URL": "",
                "CARDSERVICE_DATABASE_URL": "",
                "CARDSERVICE_MAIL_CATCHER_PORT": str(catcher_port),
                "CARDSERVICE_WORKERS": workers,
                "CARDSERVICE_LOG_LEVEL": "WARNING",
            }
            started.append(stack.enter_context(serving(env, "serve")))
        yield started


@pytest.mark.parametrize("catcher_port", [0, free_port()], ids=["free", "same"])
def test_each_instance_catches_its_own_mail_with_links_to_its_own_port(
    tmp_path: Path, catcher_port: int
) -> None:
    with two_instances(tmp_path, catcher_port) as instances:
        for server, name in zip(instances, ("first", "second"), strict=True):
            _apply(server, f"{name}@example.org")
        for server, name in zip(instances, ("first", "second"), strict=True):
            ((recipients, links),) = _wait_for_mail(tmp_path / name / "data")
            assert recipients == [f"{name}@example.org"]
            assert links, "the email carries its link"
            # Every link to a service on this machine is to its own port (the signature's
            # other link is the library's web site, from the profile).
            local = [link for link in links if link.startswith("http://127.0.0.1")]
            assert local, links
            assert all(link.startswith(f"{server.url}/apply/verify/") for link in local), links
        logs = "".join(server.log.read_text() for server in instances)
    # A port asked for twice is not shared: the second instance's two workers said so and
    # took free ones; a free port is never taken.
    taken = re.findall(rf"mail catcher port {catcher_port} is taken", logs)
    assert len(taken) == (2 if catcher_port else 0), logs
