"""The real Google Wallet REST client, against a local transport that answers as Google's
documentation says its endpoints do: the OAuth 2.0 token endpoint (JWT bearer grant, RFC
7523; the assertion is checked with the service account's public key) and
``PATCH walletobjects/v1/genericObject/{id}`` with the bearer token."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, unquote

import httpx
import jwt
import pytest

from passes.google import ServiceAccount
from passes.google_rest import JWT_BEARER, SCOPE, GoogleRestObjects, WalletApiError
from tests.google_wallet_support import ACCOUNT_EMAIL, key_file_json, private_key

ACCESS_TOKEN = "ya29.test-access-token"  # a fixed test value
SAVED = "3388000000022012345.example-2000000017"


class FakeGoogle:
    """What Google answers, and what it was sent."""

    def __init__(self, *, patch_status: int | None = None, token_body: bytes | None = None) -> None:
        self.token_body = token_body
        self.token_requests = 0
        self.patched: list[tuple[str, dict[str, object]]] = []
        self.patch_status = patch_status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url == "https://oauth2.googleapis.com/token":
            form = parse_qs(request.content.decode())
            assert form["grant_type"] == [JWT_BEARER]
            claims = jwt.decode(
                form["assertion"][0],
                private_key().public_key(),
                algorithms=["RS256"],
                audience="https://oauth2.googleapis.com/token",
                issuer=ACCOUNT_EMAIL,
                options={"require": ["iss", "aud", "iat", "exp", "scope"]},
            )
            assert claims["scope"] == SCOPE
            assert claims["exp"] - claims["iat"] <= 3600
            self.token_requests += 1
            if self.token_body is not None:
                return httpx.Response(200, content=self.token_body)
            return httpx.Response(
                200, json={"access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"}
            )
        prefix = "/walletobjects/v1/genericObject/"
        assert request.method == "PATCH"
        assert request.url.host == "walletobjects.googleapis.com"
        assert request.url.raw_path.decode().startswith(prefix)
        assert request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
        object_id = unquote(request.url.raw_path.decode().removeprefix(prefix))
        if self.patch_status is not None:
            return httpx.Response(self.patch_status, json={"error": {"code": self.patch_status}})
        if object_id != SAVED:
            return httpx.Response(404, json={"error": {"code": 404, "status": "NOT_FOUND"}})
        self.patched.append((object_id, json.loads(request.content)))
        return httpx.Response(200, json={"id": object_id})


def _client(google: FakeGoogle) -> GoogleRestObjects:
    account = ServiceAccount.from_json(key_file_json())
    return GoogleRestObjects(account, transport=httpx.MockTransport(google))


async def test_patches_with_one_access_token_and_tells_an_unsaved_pass() -> None:
    google = FakeGoogle()
    client = _client(google)
    try:
        assert await client.patch_object(SAVED, {"state": "EXPIRED"}) is True
        assert await client.patch_object(SAVED + "9", {"state": "EXPIRED"}) is False
    finally:
        await client.aclose()
    assert google.patched == [(SAVED, {"state": "EXPIRED"})]
    assert google.token_requests == 1  # the token is kept until shortly before it ends


@pytest.mark.parametrize("status", [401, 403, 429, 500, 503])
async def test_other_answers_raise_for_a_retry(status: int) -> None:
    client = _client(FakeGoogle(patch_status=status))
    try:
        with pytest.raises(WalletApiError) as raised:
            await client.patch_object(SAVED, {"state": "EXPIRED"})
    finally:
        await client.aclose()
    assert raised.value.status == status
    assert raised.value.object_refused is False


@pytest.mark.parametrize("status", [400, 409, 422])
async def test_a_refusal_of_the_object_itself_is_told_apart(status: int) -> None:
    client = _client(FakeGoogle(patch_status=status))
    try:
        with pytest.raises(WalletApiError) as raised:
            await client.patch_object(SAVED, {"state": "EXPIRED"})
    finally:
        await client.aclose()
    assert (raised.value.status, raised.value.object_refused) == (status, True)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>proxy login</html>",
        b"[]",
        b'{"token_type": "Bearer"}',
        b'{"access_token": "t", "expires_in": "soon"}',
    ],
)
async def test_an_unreadable_token_answer_is_an_error_for_a_retry(body: bytes) -> None:
    """A 200 from the token endpoint that is not Google's JSON (a proxy's page, another
    shape) is reported as Google's error, as the job expects, never another exception."""
    client = _client(FakeGoogle(token_body=body))
    try:
        with pytest.raises(WalletApiError, match="token answer unreadable"):
            await client.patch_object(SAVED, {"state": "EXPIRED"})
    finally:
        await client.aclose()
