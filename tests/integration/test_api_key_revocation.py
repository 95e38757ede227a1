"""A revoked API key stops working everywhere within the stated bound
(``CARDSERVICE_API_KEY_RECHECK_SECONDS``), on both engines and with several workers, though
each process holds the keys in memory."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cardservice.errors import ConfigurationError
from cardservice.security.apikeys import (
    ApiKeyChecker,
    ApiKeyRequired,
    create_api_key,
    revoke_api_key,
)
from cardservice.services import Services
from cardservice.settings import Settings
from tests.cli_support import COMMAND, cardservice, cli_env

BOUND = 1  # seconds: the setting the tests run with, so no test sleeps long
SLACK = 1.5  # seconds past the bound for a loaded machine: the request itself, the re-read


async def test_revoked_key_is_refused_within_the_bound(services: Services) -> None:
    checker = ApiKeyChecker(services.reader, recheck_seconds=BOUND)
    async with services.db.transaction() as session:
        row, plain = await create_api_key(session, "scanner")
    assert await checker.check(plain) == row.id
    async with services.db.transaction() as session:
        await revoke_api_key(session, row.id)
    revoked_at = time.monotonic()
    while True:
        try:
            await checker.check(plain)
        except ApiKeyRequired:
            break
        assert time.monotonic() - revoked_at < BOUND + SLACK, "still accepted past the bound"
        time.sleep(0.05)  # noqa: ASYNC251  # a plain pause between checks of one checker
    # Refused from then on, and not by luck of timing.
    for _ in range(3):
        with pytest.raises(ApiKeyRequired):
            await checker.check(plain)


async def test_key_created_elsewhere_works_at_once(services: Services) -> None:
    checker = ApiKeyChecker(services.reader, recheck_seconds=300)
    async with services.db.transaction() as session:
        first, first_plain = await create_api_key(session, "first")
    assert await checker.check(first_plain) == first.id  # the copy is read now
    async with services.db.transaction() as session:
        second, second_plain = await create_api_key(session, "second")
    assert await checker.check(second_plain) == second.id
    with pytest.raises(ApiKeyRequired):
        await checker.check("csk_" + "x" * 43)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _status(url: str, key: str) -> int:
    """One request on a new connection, so the kernel may hand it to any worker."""
    request = urllib.request.Request(  # noqa: S310  # loopback, fixed scheme
        url,
        data=b'{"barcode": "1"}',
        headers={"Content-Type": "application/json", "X-API-Key": key, "Connection": "close"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_served_by_two_workers_a_revoked_key_stops_within_the_bound(
    empty_db: Settings, data_dir: Path
) -> None:
    env = cli_env(empty_db, data_dir)
    created = cardservice(env, "apikey", "create", "counter 1").out
    found = re.search(r"key (\d+) \(counter 1\): (csk_\S+)", created)
    assert found is not None, created
    key_id, key = found.group(1), found.group(2)
    port = _free_port()
    server_env = {
        **env,
        "CARDSERVICE_PORT": str(port),
        "CARDSERVICE_WORKERS": "2",
        "CARDSERVICE_API_KEY_RECHECK_SECONDS": str(BOUND),
        "CARDSERVICE_MAIL_CATCHER_PORT": str(_free_port()),
        "CARDSERVICE_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(  # our own console script, fixed arguments
        [str(COMMAND), "serve", "--no-migrate"],
        env={**os.environ, **server_env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api/v1/verify"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _status(url, key) == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        # Every worker has the key in memory now.
        assert {_status(url, key) for _ in range(20)} == {200}
        cardservice(env, "apikey", "revoke", key_id)
        revoked_at = time.monotonic()
        while _status(url, key) != 401:
            assert time.monotonic() - revoked_at < BOUND + SLACK, "still accepted past the bound"
        time.sleep(max(0.0, revoked_at + BOUND + SLACK - time.monotonic()))
        # Past the bound, no worker accepts it any more.
        assert {_status(url, key) for _ in range(20)} == {401}
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_the_bound_is_a_setting(settings: Settings) -> None:
    assert settings.api_key_recheck_seconds == 5
    every_request = Settings.from_env({"CARDSERVICE_API_KEY_RECHECK_SECONDS": "0"})
    assert every_request.api_key_recheck_seconds == 0
    with pytest.raises(ConfigurationError, match="API_KEY_RECHECK_SECONDS"):
        Settings.from_env({"CARDSERVICE_API_KEY_RECHECK_SECONDS": "301"})
