"""The APNs pusher's requests as APNs documents them (HTTP/2 POST /3/device/<token>, an
ES256 provider token with iss = team id and kid = key id, the pass type id as topic, an
empty JSON payload) and its reading of APNs' answers. APNs itself cannot be reached from
the tests, so httpx's MockTransport answers in its place; the recording pusher stands in
for it elsewhere."""

from __future__ import annotations

import json

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cardservice.passkit.push import TOKEN_LIFETIME_SECONDS, ApnsPusher, RecordingPusher

TOPIC = "pass.org.example.library-card"


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


async def test_pushes_are_shaped_as_apns_asks_and_answers_are_read() -> None:
    key = _key()
    seen: list[httpx.Request] = []
    answers = {
        "aa" * 32: httpx.Response(200),
        "bb" * 32: httpx.Response(410, json={"reason": "Unregistered"}),
        "cc" * 32: httpx.Response(400, json={"reason": "BadDeviceToken"}),
        "dd" * 32: httpx.Response(500, json={"reason": "InternalServerError"}),
        # Bodies that are not APNs's JSON object (a proxy's): a failure, not an exception.
        "ee" * 32: httpx.Response(502, content=b"<html>Bad gateway</html>"),
        "ff" * 32: httpx.Response(400, json=["BadDeviceToken"]),
    }

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[request.url.path.rsplit("/", 1)[1]]

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    pusher = ApnsPusher(_pem(key), key_id="ABC123DEFG", team_id="TEAM123456", client=client)
    report = await pusher.push(TOPIC, list(answers))
    await pusher.aclose()
    assert (report.sent, sorted(report.gone), report.failed) == (1, ["bb" * 32, "cc" * 32], 3)
    first = seen[0]
    assert first.method == "POST"
    assert str(first.url) == f"https://api.push.apple.com/3/device/{'aa' * 32}"
    assert json.loads(first.content) == {}
    assert first.headers["apns-topic"] == TOPIC
    scheme, _, token = first.headers["authorization"].partition(" ")
    assert scheme == "bearer"
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": "ABC123DEFG", "typ": "JWT"}
    claims = jwt.decode(token, key.public_key(), algorithms=["ES256"])
    assert claims["iss"] == "TEAM123456"


def test_the_provider_token_is_reused_then_renewed() -> None:
    pusher = ApnsPusher(_pem(_key()), key_id="ABC123DEFG", team_id="TEAM123456")
    first = pusher.provider_token(now=1_000_000.0)
    assert pusher.provider_token(now=1_000_000.0 + 60) == first
    assert pusher.provider_token(now=1_000_000.0 + TOKEN_LIFETIME_SECONDS) != first


async def test_the_recording_pusher_keeps_what_it_would_send() -> None:
    pusher = RecordingPusher(gone_tokens={"bb"})
    report = await pusher.push(TOPIC, ["aa", "bb"])
    assert pusher.sent == [(TOPIC, "aa")]
    assert report.gone == ["bb"]
