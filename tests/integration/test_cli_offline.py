"""`cardservice offline sync|verify` as a scanner runs them (the console script in a
subprocess): synced from a running `cardservice serve`, then verifying with the server
stopped. A card revoked between two syncs is rejected after the second (a delta), every
verdict says how old its data is, and a bundle file copied from elsewhere is trusted by
its signature alone (a tampered one is refused: tests/integration/test_offline_feed.py).

On SQLite only: this is about the command line; the feed's SQL runs on both engines in
tests/integration/test_offline_feed.py."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from cardservice.cards.keys import Keyring, SigningKey
from cardservice.cards.models import RevocationReason
from cardservice.cards.offline import SEEN_FILE, STATE_FILE
from cardservice.cards.service import get_card, revoke_card
from cardservice.db.migrate import upgrade
from cardservice.services import Services
from cardservice.settings import Settings
from tests.card_support import card_token_of, counter_api_key
from tests.cli_support import cardservice, cli_env, serving
from tests.factories import make_card
from tests.integration.test_cli_card import read
from tests.unit.cards.test_offline_verifier import bundle_of


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('offline') / 'test.db'}"
    asyncio.run(upgrade(url))
    return url


def _verdicts(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


async def _cards(svc: Services) -> tuple[str, str, str, str, str]:
    kept, lost = await make_card(svc), await make_card(svc, email="b@example.org")
    key = await counter_api_key(svc)
    return (
        kept.user_number,
        card_token_of(svc, kept),
        lost.user_number,
        card_token_of(svc, lost),
        key,
    )


async def _revoke(svc: Services, number: str) -> None:
    async with svc.db.transaction() as session:
        card = await get_card(session, number)
        await revoke_card(session, card, RevocationReason.LOST, svc.policy)


def test_offline_scanner_syncs_from_the_server_and_verifies_without_it(
    empty_db: Settings, tmp_path: Path
) -> None:
    env = cli_env(empty_db, empty_db.data_dir)
    kept, kept_token, lost, lost_token, api_key = read(empty_db, _cards)
    scanner = tmp_path / "scanner"
    copy_dir = tmp_path / "copied"
    sync = ("offline", "sync", "--dir", str(scanner), "--api-key", api_key)
    with serving(env, "serve") as server:
        first = json.loads(cardservice(env, *sync, "--server", server.url).out)
        assert (first["numbers"], first["tokens"]) == (0, 0)
        read(empty_db, lambda svc: _revoke(svc, lost))
        second = json.loads(cardservice(env, *sync, "--server", server.url).out)
        assert second["cursor"] > first["cursor"]
        assert (second["numbers"], second["tokens"]) == (1, 1)
        assert second["data_as_of"].endswith("Z")
        # The server's database restored from a backup: its feed is behind the scanner; a
        # delta is refused (409) with what to do, and the full sync it asks for is taken.
        ahead = tmp_path / "ahead"
        ahead.mkdir()
        saved = json.loads((scanner / STATE_FILE).read_text())
        saved |= {"cursor": saved["cursor"] + 1000, "data_at": saved["data_at"] - 5}
        (ahead / STATE_FILE).write_text(json.dumps(saved))
        behind = ("offline", "sync", "--dir", str(ahead), "--api-key", api_key)
        refused = cardservice(env, *behind, "--server", server.url, ok=False).err
        assert "feed_cursor_ahead: " in refused
        assert "--full" in refused
        full = json.loads(cardservice(env, *behind, "--server", server.url, "--full").out)
        assert full["cursor"] == second["cursor"]
        # A copy of the full bundle, as a USB stick would carry it to a scanner with no
        # network, and the key set its operator was given.
        headers = {"X-API-Key": api_key}
        bundle = httpx.get(f"{server.url}/api/v1/offline/feed", headers=headers).text
        jwks = httpx.get(f"{server.url}/.well-known/jwks.json").text
    (tmp_path / "bundle.jws").write_text(bundle)
    (tmp_path / "jwks.json").write_text(jwks)

    # The server is gone: the scanner still judges, from its own data.
    unreachable = cardservice(env, *sync, "--server", server.url, ok=False)
    assert "server_unreachable" in unreachable.err
    mistyped = cardservice(env, *sync, "--server", "http://[::1", ok=False).err
    assert mistyped.startswith("Error: server_unreachable: "), mistyped
    out = cardservice(
        env, "offline", "verify", "--dir", str(scanner), lost, lost_token, kept_token, "12"
    ).out
    by_lost, by_lost_token, by_kept, garbage = _verdicts(out)
    assert (by_lost["status"], by_lost["reason"]) == ("revoked", "lost")
    assert (by_lost_token["status"], by_lost_token["reason"]) == ("revoked", "lost")
    assert (by_kept["status"], by_kept["user_number"]) == ("valid", kept)
    assert garbage["status"] == "invalid"
    for verdict in (by_lost, by_kept):
        assert 0 <= verdict["data_age_seconds"] < 300
        assert verdict["stale"] is False
        assert verdict["data_as_of"].endswith("Z") or "+00:00" in verdict["data_as_of"]

    # The copied bundle applies on another scanner with no server at all.
    copied = cardservice(
        env, "offline", "sync", "--dir", str(copy_dir), "--bundle", str(tmp_path / "bundle.jws"),
        "--trust-jwks", str(tmp_path / "jwks.json"),
    ).out  # fmt: skip
    assert json.loads(copied)["numbers"] == 1
    not_synced = cardservice(env, "offline", "verify", "--dir", str(tmp_path / "new"), ok=False)
    assert "offline_not_synced" in not_synced.err


def test_an_operator_gets_one_line_naming_what_is_wrong(tmp_path: Path) -> None:
    scanner, now = tmp_path / "scanner", datetime.now(UTC)
    first, rotated = (
        Keyring([SigningKey.generate(sign_from=now - timedelta(days=1))]) for _ in "ab"
    )
    files = {
        "first.jws": bundle_of(first, cursor=3, iat=now),
        "old.jws": bundle_of(first, cursor=2, iat=now - timedelta(hours=1)),
        "rotated.jws": bundle_of(rotated, cursor=5, iat=now),
        "jwks.json": json.dumps(first.jwks(now)),
        "rotated.json": json.dumps(rotated.jwks(now)),
        "not-json.json": "keys?",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    head, payload, _ = files["first.jws"].split(".")
    (tmp_path / "altered.jws").write_text(f"{head}.{payload}.{'A' * 86}")
    (tmp_path / "binary.jws").write_bytes(b"\xff\xfe\x00 not a bundle")

    def sync(bundle: str, trust: str | None = None, *, ok: bool = False) -> str:
        args = ["offline", "sync", "--dir", str(scanner), "--bundle", str(tmp_path / bundle)]
        args += [] if trust is None else ["--trust-jwks", str(tmp_path / trust)]
        ran = cardservice({}, *args, ok=ok)
        assert "Traceback" not in ran.err
        return ran.err.strip().splitlines()[-1] if not ok else ran.out

    plain_http = ("offline", "sync", "--dir", str(scanner), "--server", "http://cards.example")
    insecure = cardservice({}, *plain_http, ok=False).err  # keys chosen by whoever is between
    assert "jwks_insecure: " in insecure
    assert "--trust-jwks" in insecure
    assert "jwks_unreadable: " in sync("first.jws", "not-json.json")
    sync("first.jws", "jwks.json", ok=True)
    assert "bundle_rejected: bad_signature: " in sync("altered.jws")
    assert "bundle_rejected: malformed: " in sync("binary.jws")
    assert "bundle_rejected: older: " in sync("old.jws")
    missed = sync("rotated.jws")  # a rotation's whole overlap missed: set it up again
    assert "bundle_rejected: unknown_key: " in missed
    assert "--trust-jwks" in missed
    assert json.loads(sync("rotated.jws", "rotated.json", ok=True))["cursor"] == 5

    (scanner / SEEN_FILE).write_text("{damaged")
    verify = ("offline", "verify", "--dir", str(scanner), "A2000000014A")
    damaged = cardservice({}, *verify, ok=False).err
    assert "offline_data_unreadable: " in damaged
    assert SEEN_FILE in damaged
    assert "Traceback" not in damaged
