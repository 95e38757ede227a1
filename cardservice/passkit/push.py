"""Telling devices that a pass changed: the Apple Push Notification service (APNs).

A pass update push carries nothing: an empty JSON payload to each device's push token, with
the pass type identifier as the topic. The device then asks the web service which of its
passes changed and fetches them (Apple, "Wallet Passes": "Adding a Web Service to Update
Passes"). :class:`ApnsPusher` is the real implementation: HTTP/2 to
``https://api.push.apple.com/3/device/<token>`` (httpx with h2), token-based authentication
with an ES256 JWT provider token (``iss`` the team id, ``iat``; header ``kid`` the key id)
made from the ``.p8`` key and renewed every 40 minutes (APNs refuses one older than an hour
and throttles renewals more often than every 20 minutes). APNs cannot be reached from the
tests: they use :class:`RecordingPusher`, which keeps what would have been sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

log = logging.getLogger(__name__)

APNS_PRODUCTION: Final = "api.push.apple.com"
APNS_DEVELOPMENT: Final = "api.sandbox.push.apple.com"
# Renew the provider token this often (APNs: at most one per 20 minutes, none older than 60).
TOKEN_LIFETIME_SECONDS: Final = 40 * 60
# The device no longer takes pushes for this topic: forget its registration.
_GONE_REASONS: Final = frozenset({"BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic"})


@dataclass(slots=True)
class PushReport:
    """What one round of pushes did: ``sent`` accepted by APNs, ``gone`` the push tokens
    APNs says no longer exist (their registrations can go), ``failed`` the rest."""

    sent: int = 0
    gone: list[str] = field(default_factory=list)
    failed: int = 0


class PassPusher(Protocol):
    """Sends the empty "your pass changed" push to devices."""

    async def push(self, topic: str, push_tokens: Sequence[str]) -> PushReport:
        """Push to each token; never raises for one token's failure."""
        ...

    async def aclose(self) -> None: ...


class ApnsPusher:
    """APNs over HTTP/2 with token authentication (see the module's docstring).

    ``key_pem``: the ``.p8`` key's bytes (EC P-256); ``key_id`` its 10-character id;
    ``team_id`` the developer team. ``client`` may be given (tests of the request shape);
    by default one HTTP/2 connection is kept and reused, as APNs asks."""

    def __init__(
        self,
        key_pem: bytes,
        *,
        key_id: str,
        team_id: str,
        host: str = APNS_PRODUCTION,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        key = load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError("the APNs key must be an EC (P-256) .p8 key")
        self._key = key
        self._key_id = key_id
        self._team_id = team_id
        self._base = f"https://{host}"
        self._client = client or httpx.AsyncClient(http2=True, timeout=10.0)
        self._token = ""
        self._token_at = 0.0

    def __repr__(self) -> str:
        return f"ApnsPusher(host={self._base!r}, key_id={self._key_id!r})"

    def provider_token(self, now: float | None = None) -> str:
        """The ES256 JWT, renewed when older than :data:`TOKEN_LIFETIME_SECONDS`."""
        moment = time.time() if now is None else now
        if not self._token or moment - self._token_at >= TOKEN_LIFETIME_SECONDS:
            self._token = jwt.encode(
                {"iss": self._team_id, "iat": int(moment)},
                self._key,
                algorithm="ES256",
                headers={"kid": self._key_id},
            )
            self._token_at = moment
        return self._token

    async def push(self, topic: str, push_tokens: Sequence[str]) -> PushReport:
        report = PushReport()
        headers = {
            "authorization": f"bearer {self.provider_token()}",
            "apns-topic": topic,
            "apns-priority": "5",
        }
        for token in push_tokens:
            try:
                response = await self._client.post(
                    f"{self._base}/3/device/{token}", content=b"{}", headers=headers
                )
            except httpx.HTTPError as exc:
                log.warning("APNs push failed: %s", type(exc).__name__)
                report.failed += 1
                continue
            if response.status_code == 200:
                report.sent += 1
            elif _reason(response) in _GONE_REASONS or response.status_code == 410:
                report.gone.append(token)
            else:
                log.warning("APNs refused a push: %s %s", response.status_code, _reason(response))
                report.failed += 1
        return report

    async def aclose(self) -> None:
        await self._client.aclose()


def _reason(response: httpx.Response) -> str:
    """APNs's ``reason``; empty for a body that is not its JSON object (a proxy's page)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("reason", "")) if isinstance(body, dict) else ""


@dataclass(slots=True)
class RecordingPusher:
    """For tests: keeps every ``(topic, push_token)`` it was asked to push; tokens in
    ``gone_tokens`` are answered as APNs answers an unregistered device, those in
    ``failing_tokens`` as when APNs cannot be reached."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    gone_tokens: set[str] = field(default_factory=set)
    failing_tokens: set[str] = field(default_factory=set)

    async def push(self, topic: str, push_tokens: Sequence[str]) -> PushReport:
        report = PushReport()
        for token in push_tokens:
            if token in self.gone_tokens:
                report.gone.append(token)
            elif token in self.failing_tokens:
                report.failed += 1
            else:
                self.sent.append((topic, token))
                report.sent += 1
        return report

    async def aclose(self) -> None:
        return None
