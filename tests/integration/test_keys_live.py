"""A key rotation reaches the running service: `cardservice serve` with two workers, then
`cardservice keys rotate --overlap-hours 0` from another process, and within
``ROTATION_BOUND`` every worker publishes the new key and signs new card tokens with it,
with no restart; tokens the old key signed keep verifying. On both engines."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from pathlib import Path

import httpx
import zxingcpp

from cardservice.cards.keys import ROTATION_BOUND
from cardservice.services import Services
from cardservice.settings import Settings
from tests.cli_support import Server, cardservice, cli_env, serving
from tests.integration.test_web_card import PASSWORD, decode_svg, make_patron, qr_svg
from tests.web_support import csrf_from

BOUND = ROTATION_BOUND.total_seconds()
FRESH = {"Connection": "close"}  # a new connection each time: any worker may answer


def _seed(settings: Settings) -> str:
    async def seed() -> str:
        svc = Services.build(settings)
        try:
            return (await make_patron(svc)).user_number
        finally:
            await svc.close()

    return asyncio.run(seed())


def _published(server: Server) -> set[str]:
    answer = httpx.get(f"{server.url}/.well-known/jwks.json", headers=FRESH, timeout=10)
    assert answer.status_code == 200
    return {key["kid"] for key in answer.json()["keys"]}


def _card_token(browser: httpx.Client) -> str:
    page = browser.get("/card", headers=FRESH)
    assert page.status_code == 200, page.text
    decoded = decode_svg(qr_svg(page.text), scale=4, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(decoded) == 1
    return decoded[0][0]


def _part(token: str, index: int) -> dict[str, str]:
    segment = token.split(".")[index]
    part: dict[str, str] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return part


def _kid(token: str) -> str:
    return _part(token, 0)["kid"]


def _verdict(server: Server, key: str, token: str) -> str:
    answer = httpx.post(
        f"{server.url}/api/v1/verify",
        json={"token": token},
        headers={**FRESH, "X-API-Key": key},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    status: str = answer.json()["status"]
    return status


def test_a_rotation_reaches_every_worker_within_the_bound(
    empty_db: Settings, data_dir: Path
) -> None:
    # The base URL follows the port, so cookies and links are the server's own.
    env = {
        **cli_env(empty_db, data_dir),
        "CARDSERVICE_BASE_URL": "",
        "CARDSERVICE_WORKERS": "2",
        "CARDSERVICE_LOG_LEVEL": "WARNING",
    }
    number = _seed(empty_db)
    created = cardservice(env, "apikey", "create", "counter").out
    api_key = created.rsplit(": ", 1)[1].strip()
    with (
        serving(env, "serve", "--no-migrate") as server,
        httpx.Client(base_url=server.url, timeout=10) as browser,
    ):
        (old,) = _published(server)
        login = browser.get("/login")
        answer = browser.post(
            "/login",
            data={
                "login": number,
                "password": PASSWORD,
                "next": "/card",
                "_csrf_token": csrf_from(login.text),
            },
        )
        assert answer.status_code == 303, answer.text
        old_token = _card_token(browser)
        assert _kid(old_token) == old
        assert _part(old_token, 1)["iss"] == server.url  # the issuer follows the port

        rotated = cardservice(env, "keys", "rotate", "--overlap-hours", "0").out
        rotated_at = time.monotonic()
        found = re.fullmatch(r"new key (\S+) published now, signs now\n", rotated)
        assert found is not None, rotated
        new = found.group(1)
        # Poll on fresh connections: published and signing with the new key.
        while _published(server) != {old, new} or _kid(_card_token(browser)) != new:
            assert time.monotonic() - rotated_at < BOUND, "the rotation did not arrive in time"
            time.sleep(0.1)
        # Past the bound, every worker has it: any connection, any page.
        time.sleep(max(0.0, rotated_at + BOUND - time.monotonic()))
        assert all(_published(server) == {old, new} for _ in range(8))
        new_tokens = [_card_token(browser) for _ in range(4)]
        assert {_kid(token) for token in new_tokens} == {new}
        # The counter takes both: the new token, and the one the old key signed before.
        assert {_verdict(server, api_key, token) for token in new_tokens} == {"valid"}
        assert all(_verdict(server, api_key, old_token) == "valid" for _ in range(4))
