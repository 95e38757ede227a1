"""`cardservice sip2` as an operator runs it (the console script in a subprocess): kiosk
accounts made, listed and disabled with their audit entries, and `sip2 serve` over TLS
answering a kiosk that logs in with the printed password. The server's protocol is tested
on both engines in test_sip2_server.py; here the command's wiring, on SQLite."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cardservice.services import Services
from cardservice.settings import Settings
from cardservice.staff.models import AuditEntry
from tests.cli_support import COMMAND, cardservice, cli_env
from tests.factories import make_card
from tests.sip2_support import Sip2Client
from tests.tls_support import self_signed_certificate


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    from cardservice.db.migrate import upgrade  # noqa: PLC0415

    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sip2-cli') / 'cardservice.db'}"
    asyncio.run(upgrade(url))
    return url


@pytest.fixture
def env(empty_db: Settings) -> dict[str, str]:
    return cli_env(empty_db, empty_db.data_dir)


def _with_services(settings: Settings, work: Any) -> Any:
    async def go() -> Any:
        svc = Services.build(settings)
        try:
            return await work(svc)
        finally:
            await svc.close()

    return asyncio.run(go())


_certificate = self_signed_certificate


@contextmanager
def _serving(env: dict[str, str], *args: str) -> Iterator[int]:
    """``cardservice sip2 serve --port 0 ARGS``; yields the port it printed."""
    with subprocess.Popen(  # our own console script, fixed arguments
        [str(COMMAND), "sip2", "serve", "--port", "0", *args],
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            seen = []
            found = None
            while found is None and len(seen) < 20:  # its line, after any warning
                seen.append(process.stdout.readline())
                assert seen[-1], "".join(seen)  # it exited
                found = re.search(r"sip2 on 127\.0\.0\.1:(\d+) \(TLS\)", seen[-1])
            assert found, "".join(seen)
            yield int(found.group(1))
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0


def test_kiosks_and_serving_over_tls(
    env: dict[str, str], empty_db: Settings, tmp_path: Path
) -> None:
    added = cardservice(env, "sip2", "kiosk", "add", "gate-1").out
    found = re.search(r"password ([A-Za-z0-9]{20})\n", added)
    assert found, added
    password = found.group(1)
    assert "sip2_kiosk_exists" in cardservice(env, "sip2", "kiosk", "add", "gate-1", ok=False).err
    bad = cardservice(env, "sip2", "kiosk", "add", "a|b", ok=False)
    assert bad.code == 2
    assert "sip2_kiosk_name_invalid" in bad.err

    card = _with_services(empty_db, make_card)
    cert, key = _certificate(tmp_path)
    tls = ssl.create_default_context(cafile=str(cert))

    async def kiosk(port: int) -> tuple[bool, str | None, str | None]:
        client = await Sip2Client.connect(port, tls=tls)
        try:
            logged_in = await client.login("gate-1", password)
            answer = await client.patron_status(card.user_number)
            return logged_in, answer.field("BL"), answer.field("AE")
        finally:
            await client.close()

    with _serving(env, "--certfile", str(cert), "--keyfile", str(key)) as port:
        assert asyncio.run(kiosk(port)) == (True, "Y", "山田 花子")

    listed = cardservice(env, "sip2", "kiosk", "list").out
    assert re.search(r"^gate-1\tactive\tlast login 20", listed, re.MULTILINE), listed
    assert "kiosk gate-1 disabled" in cardservice(env, "sip2", "kiosk", "disable", "gate-1").out

    async def audit(svc: Services) -> list[tuple[str, str, dict[str, Any]]]:
        async with svc.db.read() as session:
            rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
            return [(e.action, e.target_type, e.detail) for e in rows]

    entries = _with_services(empty_db, audit)
    assert [(action, target) for action, target, _ in entries] == [
        ("sip2_kiosk.add", "sip2_kiosk"),
        ("sip2_kiosk.disable", "sip2_kiosk"),
    ]
    for _, _, detail in entries:
        assert detail["name"] == "gate-1"
        assert detail["actor"].startswith("cli:")
        assert password not in str(detail)


def test_serve_refuses_a_bad_certificate(env: dict[str, str], tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    refused = cardservice(env, "sip2", "serve", "--certfile", str(junk), ok=False)
    assert "TLS certificate" in refused.err
    only_key = cardservice(env, "sip2", "serve", "--keyfile", str(junk), ok=False)
    assert "--keyfile needs --certfile" in only_key.err


def test_serve_on_a_port_in_use_or_a_host_not_here_is_one_line(env: dict[str, str]) -> None:
    import socket  # noqa: PLC0415

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        busy = cardservice(env, "sip2", "serve", "--port", port, ok=False)
    assert busy.code == 1
    assert busy.err.strip().splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
    elsewhere = cardservice(env, "sip2", "serve", "--host", "192.0.2.1", "--port", "0", ok=False)
    assert "Error: cannot listen on 192.0.2.1:0: " in elsewhere.err
    assert "Traceback" not in busy.err + elsewhere.err
