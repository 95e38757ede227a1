"""Apple Wallet passes over HTTP, on both engines: the patron's download and the PassKit web
service (register, updates after a renewal, 304, a reissue voiding the old pass, a
suspension on the pass, unregister), with pushes from the card events to a recording
pusher. Every pass is verified with openssl and its manifest hashes checked."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import msgspec
import pytest

from cardservice.cards.lifecycle import ReissueReason, reissue_card, renew_card, suspend_card
from cardservice.cards.models import Card, RevocationReason
from cardservice.cards.service import revoke_card, set_suspended
from cardservice.jobs import run_jobs
from cardservice.passkit.paths import APPLE_PASS_PATH, WEB_SERVICE_PATH
from cardservice.passkit.push import RecordingPusher
from cardservice.passkit.routes import AUTH_KEY_LABEL, LOG_REQUESTS_PER_HOUR
from cardservice.passkit.service import (
    DEVICES_PER_PASS_MAX,
    authentication_token,
    pass_of_card,
    push_tokens,
)
from cardservice.passkit.updates import update_apple_passes
from cardservice.passkit.wallet import AppleWallet
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.security import passwords
from cardservice.security.secrets import app_secrets, derive_key
from cardservice.services import Services
from cardservice.settings import Settings
from passes.google import SAVE_URL
from tests.factories import make_card
from tests.google_wallet_support import ISSUER_ID, write_key_file
from tests.pass_support import PASS_TYPE_ID, TEAM_ID, opened_pass, pass_document, write_chain
from tests.web_support import Client, form_token, web_client, with_free_catcher_port

PASSWORD = "Shiori-2024!"
PUSH_TOKEN = "ab" * 32
DEVICE = "device0123456789"
PKPASS = "application/vnd.apple.pkpass"


@pytest.fixture(scope="module")
def chain_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("apple-chain")
    write_chain(directory)
    return directory


@pytest.fixture
def settings(settings: Settings, chain_dir: Path) -> Settings:
    return msgspec.structs.replace(
        settings,
        apple_pass_type_id=PASS_TYPE_ID,
        apple_team_id=TEAM_ID,
        apple_pass_certificate=chain_dir / "pass.pem",
        apple_pass_key=chain_dir / "pass.key",
        apple_wwdr_certificate=chain_dir / "wwdr.pem",
    )


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


def _wallet(services: Services, pusher: RecordingPusher) -> AppleWallet:
    assert services.apple_wallet is not None
    return dataclasses.replace(services.apple_wallet, pusher=pusher)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"ApplePass {token}"}


def _device_path(serial: str | None = None, device: str = DEVICE) -> str:
    path = f"{WEB_SERVICE_PATH}/v1/devices/{device}/registrations/{PASS_TYPE_ID}"
    return f"{path}/{serial}" if serial else path


def _pass_path(serial: str, pass_type: str = PASS_TYPE_ID) -> str:
    return f"{WEB_SERVICE_PATH}/v1/passes/{pass_type}/{serial}"


async def _patron(services: Services) -> Card:
    hashed = await passwords.hash_password(PASSWORD)
    async with services.db.transaction() as session:
        return await create_patron_with_card(
            session,
            NewPatron(
                family_name="山田",
                given_name="花子",
                family_kana="やまだ",
                given_kana="はなこ",
                birth_date=date(1990, 4, 1),
                email="hanako@example.org",
                password_hash=hashed,
            ),
            services.policy,
        )


async def _log_in(client: Client, number: str) -> None:
    token = await form_token(client, "/login")
    response = await client.post(
        "/login", data={"login": number, "password": PASSWORD, "_csrf_token": token}
    )
    assert response.status_code == 303, response.text


def _opened(body: bytes, chain_dir: Path, work: Path) -> dict[str, Any]:
    return pass_document(opened_pass(body, chain_dir / "root.pem", work))


async def _download(
    client: Client, services: Services, card: Card, chain_dir: Path, work: Path
) -> dict[str, Any]:
    """The patron's pass as downloaded, checked as a device checks it."""
    download = await client.get(APPLE_PASS_PATH)
    assert download.status_code == 200, download.text
    assert download.headers["content-type"] == PKPASS
    document = _opened(download.content, chain_dir, work)
    assert document["webServiceURL"] == "https://cards.example.org/api/passkit"
    assert document["storeCard"]["primaryFields"][0]["value"] == card.user_number
    assert [b["format"] for b in document["barcodes"]] == [
        "PKBarcodeFormatCodabar",
        "PKBarcodeFormatCode128",
        "PKBarcodeFormatQR",
    ]
    assert (
        services.tokens.verify(document["barcodes"][2]["message"]).user_number == card.user_number
    )
    return document


async def _register(client: Client, serial: str, token: str) -> tuple[str, str]:
    """Register a device (201, then 200 again); the tag and the pass's Last-Modified."""
    path, body = _device_path(serial), {"pushToken": PUSH_TOKEN}
    assert (await client.post(path, json=body, headers=_auth(token))).status_code == 201
    assert (await client.post(path, json=body, headers=_auth(token))).status_code == 200
    listed = await client.get(_device_path())
    assert listed.status_code == 200
    assert listed.json()["serialNumbers"] == [serial]
    tag = listed.json()["lastUpdated"]
    unchanged = await client.get(_device_path(), params={"passesUpdatedSince": tag})
    assert unchanged.status_code == 204
    # A tag past year 9999 was never given out: it counts as none, every pass listed.
    beyond = await client.get(_device_path(), params={"passesUpdatedSince": "999999999999"})
    assert beyond.status_code == 200
    assert beyond.json()["serialNumbers"] == [serial]
    latest = await client.get(_pass_path(serial), headers=_auth(token))
    assert latest.status_code == 200
    modified = latest.headers["last-modified"]
    same = await client.get(
        _pass_path(serial), headers={**_auth(token), "If-Modified-Since": modified}
    )
    assert same.status_code == 304
    return tag, modified


async def _change(services: Services, card_id: int, pusher: RecordingPusher, change: Any) -> Any:
    """Apply ``change(session, card)`` in a transaction, then run the pass update job."""
    async with services.db.transaction() as session:
        held = await session.get(Card, card_id)
        assert held is not None
        result = await change(session, held)
    await update_apple_passes(services.db, _wallet(services, pusher))
    return result


async def test_a_saved_pass_follows_its_card(
    client: Client, services: Services, chain_dir: Path, tmp_path: Path
) -> None:
    card = await _patron(services)
    await _log_in(client, card.user_number)
    first = await _download(client, services, card, chain_dir, tmp_path / "first")
    serial, token = first["serialNumber"], first["authenticationToken"]
    tag, modified = await _register(client, serial, token)

    # A renewal: the job pushes to the device, which finds the pass changed and fetches it.
    pusher = RecordingPusher()
    # The job runs from the start of the service: its cursor begins at the newest event.
    await update_apple_passes(services.db, _wallet(services, pusher))
    profile = services.settings.profile
    new_expiry = await _change(
        services,
        card.id,
        pusher,
        lambda session, held: renew_card(session, held, profile.card, services.policy),
    )
    assert pusher.sent == [(PASS_TYPE_ID, PUSH_TOKEN)]
    changed = await client.get(_device_path(), params={"passesUpdatedSince": tag})
    assert changed.status_code == 200
    assert changed.json()["serialNumbers"] == [serial]
    assert int(changed.json()["lastUpdated"]) > int(tag)
    renewed = await client.get(
        _pass_path(serial), headers={**_auth(token), "If-Modified-Since": modified}
    )
    assert renewed.status_code == 200
    assert renewed.headers["last-modified"] != modified
    document = _opened(renewed.content, chain_dir, tmp_path / "renewed")
    assert document["storeCard"]["secondaryFields"][0]["value"].startswith(str(new_expiry))
    assert (document["serialNumber"], document.get("voided")) == (serial, None)

    # A reissue: the old pass comes back void, the download offers the new card's pass.
    new_card = await _change(
        services,
        card.id,
        pusher,
        lambda session, held: reissue_card(session, held, ReissueReason.LOST, services.policy),
    )
    assert len(pusher.sent) == 2
    voided = await client.get(_pass_path(serial), headers=_auth(token))
    old = _opened(voided.content, chain_dir, tmp_path / "voided")
    assert old["voided"] is True
    assert "barcodes" not in old
    assert old["storeCard"]["backFields"][0]["value"] == "back.replaced"  # add the new one
    new = await _download(client, services, new_card, chain_dir, tmp_path / "new")
    assert new["serialNumber"] != serial

    # A suspension shows on the new card's pass.
    await _change(
        services, new_card.id, pusher, lambda session, held: suspend_card(session, held, "staff")
    )
    suspended = await client.get(
        _pass_path(new["serialNumber"]), headers=_auth(new["authenticationToken"])
    )
    status = _opened(suspended.content, chain_dir, tmp_path / "suspended")["storeCard"]
    assert status["headerFields"][0]["value"] == "status.suspended"

    # The device deletes the pass: unregistered, nothing listed any more.
    gone = await client.delete(_device_path(serial), headers=_auth(token))
    assert gone.status_code == 200
    assert (await client.get(_device_path())).status_code == 204

    # A card revoked with no new one: there is nothing to add, said on a page.
    await _change(
        services,
        new_card.id,
        pusher,
        lambda session, held: revoke_card(
            session, held, RevocationReason.WITHDRAWN, services.policy
        ),
    )
    refused = await client.get(APPLE_PASS_PATH, headers={"Accept": "text/html"})
    assert refused.status_code == 409
    # Its pass is void and says so, without pointing to a card page that has no new card.
    ended = await client.get(
        _pass_path(new["serialNumber"]), headers=_auth(new["authenticationToken"])
    )
    withdrawn = _opened(ended.content, chain_dir, tmp_path / "withdrawn")
    assert withdrawn["voided"] is True
    assert withdrawn["storeCard"]["backFields"][0]["value"] == "back.revoked"
    assert refused.headers["content-type"].startswith("text/html")


async def test_wrong_tokens_and_other_serials_get_the_same_401(
    client: Client, services: Services
) -> None:
    mine, theirs = await make_card(services), await make_card(services, email="b@example.org")
    async with services.db.transaction() as session:
        my_pass = await pass_of_card(session, mine)
        their_pass = await pass_of_card(session, theirs)
    key = derive_key(app_secrets(services.settings), AUTH_KEY_LABEL)
    my_token = authentication_token(key, my_pass.serial)
    assert (await client.get(_pass_path(my_pass.serial), headers=_auth(my_token))).is_success
    refusals = [
        await client.get(_pass_path(their_pass.serial), headers=_auth(my_token)),
        await client.get(_pass_path(my_pass.serial), headers=_auth("x" * 43)),
        await client.get(_pass_path(my_pass.serial)),
        await client.get(
            _pass_path(my_pass.serial), headers={"Authorization": f"Bearer {my_token}"}
        ),
        await client.get(_pass_path("0" * 32), headers=_auth(authentication_token(key, "0" * 32))),
        await client.get(_pass_path(my_pass.serial, "pass.other"), headers=_auth(my_token)),
        await client.post(
            _device_path(their_pass.serial), json={"pushToken": PUSH_TOKEN}, headers=_auth(my_token)
        ),
        await client.delete(_device_path(their_pass.serial), headers=_auth(my_token)),
    ]
    for response in refusals:
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["error"]["code"] == "pass_unauthorized"
        assert their_pass.serial not in response.text
        assert theirs.user_number not in response.text
    malformed = await client.post(
        _device_path(my_pass.serial), json={"pushToken": "not hex"}, headers=_auth(my_token)
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "pass_request_malformed"
    # Made-up devices past the limit each replace the longest-registered: a pass never
    # holds more than DEVICES_PER_PASS_MAX push tokens, so a push cannot be multiplied.
    for number in range(DEVICES_PER_PASS_MAX + 2):
        registered = await client.post(
            _device_path(my_pass.serial, device=f"made-up-{number:02}"),
            json={"pushToken": PUSH_TOKEN[:-2] + f"{number:02}"},
            headers=_auth(my_token),
        )
        assert registered.status_code == 201
    async with services.db.transaction() as session:
        assert len(await push_tokens(session, [my_pass.id])) == DEVICES_PER_PASS_MAX
    assert (await client.get(_device_path(device="made-up-01"))).status_code == 204
    assert (await client.get(_device_path(device="made-up-02"))).status_code == 200
    logs = {"logs": ["Web service error for pass: 500"]}
    for _ in range(LOG_REQUESTS_PER_HOUR):
        logged = await client.post(f"{WEB_SERVICE_PATH}/v1/log", json=logs)
        assert logged.status_code == 200
    # Anyone may post logs, but not without end: the log cannot be flooded.
    flooded = await client.post(f"{WEB_SERVICE_PATH}/v1/log", json=logs)
    assert flooded.status_code == 429
    assert flooded.json()["error"]["code"] == "rate_limited"
    assert (await client.get(APPLE_PASS_PATH)).status_code == 303  # to the login page


async def test_without_apple_settings_there_is_no_pass(services: Services) -> None:
    plain = msgspec.structs.replace(
        services.settings,
        apple_pass_type_id="",
        apple_team_id="",
        apple_pass_certificate=None,
        apple_pass_key=None,
        apple_wwdr_certificate=None,
    )
    assert not plain.apple_passes_configured
    async with web_client(with_free_catcher_port(plain), mail=False) as running:
        response = await running.get(APPLE_PASS_PATH)
        assert response.status_code == 404
        served = await running.get(_device_path())
        assert served.status_code == 404
        assert served.json()["error"]["code"] == "apple_wallet_not_configured"


async def test_an_expired_card_and_a_device_apns_no_longer_knows(
    client: Client, services: Services, chain_dir: Path, tmp_path: Path
) -> None:
    card = await make_card(services)
    async with services.db.transaction() as session:
        apple_pass = await pass_of_card(session, card)
    key = derive_key(app_secrets(services.settings), AUTH_KEY_LABEL)
    token = authentication_token(key, apple_pass.serial)
    path, body = _device_path(apple_pass.serial), {"pushToken": PUSH_TOKEN}
    assert (await client.post(path, json=body, headers=_auth(token))).status_code == 201
    pusher = RecordingPusher(gone_tokens={PUSH_TOKEN})
    await update_apple_passes(services.db, _wallet(services, pusher))  # the cursor starts

    # Expired: the barcodes stay for a renewal at the counter, no token can be signed.
    async with services.db.transaction() as session:
        held = await session.get(Card, card.id)
        assert held is not None
        held.expires_on = date(2020, 3, 31)
    served = await client.get(_pass_path(apple_pass.serial), headers=_auth(token))
    document = _opened(served.content, chain_dir, tmp_path)
    assert document["storeCard"]["headerFields"][0]["value"] == "status.expired"
    assert [b["format"] for b in document["barcodes"]] == [
        "PKBarcodeFormatCodabar",
        "PKBarcodeFormatCode128",
    ]
    assert document["expirationDate"].startswith("2020-03-3")

    # A push APNs does not take is said in the jobs' report; the pass is updated anyway.
    pusher.gone_tokens, pusher.failing_tokens = set(), {PUSH_TOKEN}
    async with services.db.transaction() as session:
        held = await session.get(Card, card.id)
        assert held is not None
        await renew_card(session, held, services.settings.profile.card, services.policy)
    report = await run_jobs(services.db, services.settings.profile, apple=_wallet(services, pusher))
    assert "Apple Wallet passes updated: 1 (pushes to devices failed: 1;" in "\n".join(
        report.lines()
    )
    pusher.gone_tokens, pusher.failing_tokens = {PUSH_TOKEN}, set()

    # A suspension is pushed, and APNs says the device is gone: its registration goes.
    await _change(
        services, card.id, pusher, lambda session, held: suspend_card(session, held, "staff")
    )
    assert pusher.sent == []
    assert (await client.get(_device_path())).status_code == 204


APPLE_BUTTON = f'href="{APPLE_PASS_PATH}"'
# Each state but active: how to make it, the refusal's code, its words in both languages,
# and the page it points to.
REFUSED = [
    (
        "expired",
        "card_expired",
        "有効期限が切れているため、Walletに追加できません",
        "This card has expired, so it cannot be added to Wallet.",
        'href="/my#procedures"',
    ),
    (
        "staff",
        "card_suspended",
        "図書館へお問い合わせください。利用カードが再び使えるようになると",
        "Please contact the library. Once the card can be used again",
        'href="/my"',
    ),
    (
        "reported_lost",
        "card_suspended",
        "紛失の届出があったものです",
        "You reported this card lost.",
        'href="/my"',
    ),
    (
        "withdrawn",
        "card_revoked",
        "現在、有効な利用カードがありません",
        "This card is no longer valid, so it cannot be added to Wallet.",
        'href="/my"',
    ),
]


async def _set_state(services: Services, card_id: int, change: str) -> None:
    async with services.db.transaction() as session:
        held = await session.get_one(Card, card_id)
        if change == "expired":
            held.expires_on = date(2020, 3, 31)
        elif change == "withdrawn":
            held.expires_on = date(2099, 3, 31)
            set_suspended(held, None)
            await revoke_card(session, held, RevocationReason.WITHDRAWN, services.policy)
        else:
            held.expires_on = date(2099, 3, 31)
            set_suspended(held, change)


async def test_a_card_that_cannot_be_used_gets_a_page_instead_of_a_new_pass(
    services: Services, chain_dir: Path, tmp_path: Path
) -> None:
    """An expired, suspended or revoked card: no wallet button on the card page or My Library
    (neither Apple's nor Google's), and the download, asked for all the same, answers a page
    in the page's language saying why and where to go (409, the refusal's code), never a
    pass. A pass already in a wallet is still updated to show the card's state."""
    both = msgspec.structs.replace(
        with_free_catcher_port(services.settings),
        google_wallet_issuer_id=ISSUER_ID,
        google_wallet_key_file=write_key_file(tmp_path),
    )
    card = await _patron(services)
    async with services.db.transaction() as session:
        apple_pass = await pass_of_card(session, card)
    key = derive_key(app_secrets(services.settings), AUTH_KEY_LABEL)
    auth = _auth(authentication_token(key, apple_pass.serial))
    async with web_client(both, mail=False) as client:
        await _log_in(client, card.user_number)
        for path in ("/card", "/my"):
            page = await client.get(path)
            assert APPLE_BUTTON in page.text, path
            assert f'href="{SAVE_URL}' in page.text, path
        for change, code, japanese, english, where in REFUSED:
            await _set_state(services, card.id, change)
            for path in ("/card", "/my"):
                page = await client.get(path)
                assert page.status_code == 200
                assert "wallet-button" not in page.text, (change, path)
            for lang, words in (("ja", japanese), ("en", english)):
                refused = await client.get(APPLE_PASS_PATH, params={"lang": lang})
                assert refused.status_code == 409, (change, refused.text)
                assert refused.headers["content-type"].startswith("text/html")
                assert "content-disposition" not in refused.headers
                assert refused.headers["cache-control"] == "no-store"
                assert f"<code>{code}</code>" in refused.text
                assert f'<html lang="{lang}">' in refused.text
                assert words in refused.text, (change, lang)
                assert where in refused.text, (change, lang)
            # The pass a device already holds keeps following the card: updated, not refused.
            held = await client.get(_pass_path(apple_pass.serial), headers=auth)
            assert held.status_code == 200, change
            assert held.headers["content-type"] == PKPASS
            document = _opened(held.content, chain_dir, tmp_path / change)
            state = "revoked" if change == "withdrawn" else change
            state = "suspended" if change in ("staff", "reported_lost") else state
            assert document["storeCard"]["headerFields"][0]["value"] == f"status.{state}"
            assert document.get("voided", False) is (state == "revoked")
        # Input a browser or a device might send: never a 500.
        odd = [
            await client.get(APPLE_PASS_PATH, params={"lang": "xx"}),
            await client.get(APPLE_PASS_PATH, headers={"Accept": "application/json"}),
            await client.get(
                _pass_path(apple_pass.serial), headers={**auth, "If-Modified-Since": "garbage"}
            ),
            await client.get(_pass_path("%E3%81%82" * 40), headers=auth),
        ]
        assert [response.status_code for response in odd] == [409, 409, 200, 401]
        assert "<code>card_revoked</code>" in odd[1].text
