"""The rotating card code end to end over HTTP, on both engines: a logged-in patron's phone
registers its public key and gets a bound token; the counter API accepts the phone's code
for the current step once, refuses its replay, and a profile may require the code."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from cardservice.cards.tokens import CardTokenVerifier
from cardservice.cards.verification import Verifier
from cardservice.services import Services
from tests.card_support import card_token_of, counter_api_key, verify
from tests.integration.test_web_card import log_in, make_patron
from tests.unit.cards.test_device_proof import Phone
from tests.web_support import Client, csrf_from, form_token, web_client, with_free_catcher_port


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


async def test_a_phone_binds_its_key_and_its_code_verifies_once(
    services: Services, client: Client
) -> None:
    card = await make_patron(services)
    phone, other = Phone(), Phone()
    url = "/card/device-key"
    before_login = {"X-CSRFToken": await form_token(client, "/login")}
    for sent in (phone.jwk, {**phone.jwk, "crv": "P-384"}):  # a bad key too: 401 first
        anonymous = await client.post(url, json={"jwk": sent}, headers=before_login)
        assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (
            401,
            "patron_login_required",
        )
    await log_in(client, card.user_number)
    page = await client.get("/card")
    csrf = {"X-CSRFToken": csrf_from(page.text)}
    forged = await client.post(url, json={"jwk": phone.jwk})
    assert forged.status_code == 403  # no CSRF token: not from the card page
    for bad in ({"jwk": {**phone.jwk, "crv": "P-384"}}, {"jwk": {**phone.jwk, "d": "x" * 43}}):
        refused = await client.post(url, json=bad, headers=csrf)
        assert (refused.status_code, refused.json()["error"]["code"]) == (
            422,
            "device_key_invalid",
        ), bad
    bound = await client.post(url, json={"jwk": {**phone.jwk, "ext": True}}, headers=csrf)
    assert bound.status_code == 200, bound.text
    assert bound.headers["cache-control"] == "no-store"
    answer = bound.json()
    assert (answer["step_seconds"], answer["jti"]) == (30, card.token_jti)

    key = await counter_api_key(services)
    now = datetime.now(UTC)
    code = phone.code(answer["token"], now, jti=card.token_jti)
    first = await verify(client, key, token=code)
    assert (first["status"], first["user_number"]) == ("valid", card.user_number)
    replayed = await verify(client, key, token=code)
    assert (replayed["status"], replayed["reason"]) == ("invalid", "device_proof_replayed")
    foreign = await verify(client, key, token=other.code(answer["token"], now, card.token_jti))
    assert foreign["reason"] == "device_proof_bad_signature"
    # The bound token alone (a screenshot of the code with ~step~signature cut off) is
    # refused whatever the profile; the unbound token still verifies where it allows.
    cut = await verify(client, key, token=answer["token"])
    assert (cut["status"], cut["reason"]) == ("invalid", "device_proof_required")
    plain = await verify(client, key, token=card_token_of(services, card))
    assert plain["status"] == "valid"

    # A profile that requires the code: a bare token (a screenshot of the QR) is refused.
    strict = Verifier(
        services.reader,
        dataclasses.replace(services.policy, require_device_proof=True),
        CardTokenVerifier(
            services.keyring,
            issuer=services.settings.issuer,
            audience=services.settings.token_audience,
        ),
    )
    bare = await strict.by_token(card_token_of(services, card))
    assert (bare.status, bare.reason) == ("invalid", "device_proof_required")
    fresh = phone.code(answer["token"], datetime.now(UTC), jti=card.token_jti)
    assert (await strict.by_token(fresh)).status == "valid"

    # Registering keys is limited per patron (10 an hour).
    statuses = [
        (await client.post(url, json={"jwk": phone.jwk}, headers=csrf)).status_code
        for _ in range(10)
    ]
    assert statuses[-1] == 429
    assert statuses.count(200) == 9
