"""Google Wallet's REST API, as far as the card service uses it: patching a pass object.

:class:`WalletObjects` is the interface. :class:`GoogleRestObjects` is the real one: the
service account signs a JWT assertion (RS256, ``scope`` wallet_object.issuer, ``aud`` the
token URI) and trades it for an access token at Google's OAuth 2.0 token endpoint (RFC 7523,
the JWT bearer grant), then sends ``PATCH https://walletobjects.googleapis.com/walletobjects/
v1/genericObject/{id}`` over httpx. The tests cannot reach Google, so they use
:class:`RecordingObjects`, which keeps what would have been sent; the real client's request
shapes are tested against a local transport that checks them as Google documents them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol
from urllib.parse import quote

import httpx
import jwt

from passes.google import ServiceAccount

API_BASE: Final = "https://walletobjects.googleapis.com/walletobjects/v1"
SCOPE: Final = "https://www.googleapis.com/auth/wallet_object.issuer"
JWT_BEARER: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Google accepts assertions of at most an hour; a token is renewed a minute before it ends.
ASSERTION_LIFETIME: Final = timedelta(hours=1)
TOKEN_MARGIN: Final = timedelta(minutes=1)
TIMEOUT_SECONDS: Final = 10.0


# Answers to a patch that say the request itself is wrong for that object, whenever it is
# sent again (RFC 9110 section 15.5): not an outage, not the service account's rights.
_OBJECT_REFUSALS: Final = frozenset({400, 409, 410, 412, 413, 415, 422})


class WalletApiError(Exception):
    """Google answered with an error other than "no such object" (or not at all).

    ``object_refused`` is True when Google refused the patch of one object for what the
    request is (400, 409, 410, 412, 413, 415, 422): sending it again cannot succeed, so the
    caller goes on with the other passes. Anything else (no answer, 401, 403, 429, 5xx, the
    token) may pass and is tried again later.
    """

    def __init__(self, what: str, status: int | None, *, object_refused: bool = False) -> None:
        super().__init__(f"Google Wallet API: {what} ({status or 'no answer'})")
        self.status = status
        self.object_refused = object_refused


class WalletObjects(Protocol):
    async def patch_object(self, object_id: str, fields: dict[str, Any]) -> bool:
        """Patch the generic object ``object_id`` with ``fields``. True when patched; False
        when Google has no such object (the patron never saved the pass). Raises
        :class:`WalletApiError` for anything else, so the caller tries again later."""
        ...

    async def aclose(self) -> None: ...


class GoogleRestObjects:
    """The real client. One httpx client and one cached access token per instance."""

    def __init__(
        self,
        account: ServiceAccount,
        *,
        api_base: str = API_BASE,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._account = account
        self._api_base = api_base.rstrip("/")
        self._client = httpx.AsyncClient(timeout=TIMEOUT_SECONDS, transport=transport)
        self._token: str | None = None
        self._token_until = datetime.min.replace(tzinfo=UTC)

    def assertion(self, now: datetime) -> str:
        """The signed JWT of the bearer grant (Google's "Using OAuth 2.0 for Server to
        Server Applications": iss, scope, aud, iat, exp)."""
        claims = {
            "iss": self._account.email,
            "scope": SCOPE,
            "aud": self._account.token_uri,
            "iat": int(now.timestamp()),
            "exp": int((now + ASSERTION_LIFETIME).timestamp()),
        }
        return jwt.encode(
            claims,
            self._account.private_key,
            algorithm="RS256",
            headers={"kid": self._account.key_id},
        )

    async def _access_token(self) -> str:
        now = datetime.now(UTC)
        if self._token is not None and now < self._token_until:
            return self._token
        try:
            answer = await self._client.post(
                self._account.token_uri,
                data={"grant_type": JWT_BEARER, "assertion": self.assertion(now)},
            )
        except httpx.HTTPError as exc:
            raise WalletApiError(f"token request failed: {type(exc).__name__}", None) from None
        if answer.status_code != httpx.codes.OK:
            raise WalletApiError("token refused", answer.status_code)
        try:  # a proxy's page or a changed answer is Google's error too: retried
            body = answer.json()
            token = str(body["access_token"])
            lifetime = timedelta(seconds=int(body.get("expires_in", 3600)))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise WalletApiError("token answer unreadable", answer.status_code) from None
        self._token = token
        self._token_until = now + lifetime - TOKEN_MARGIN
        return self._token

    async def patch_object(self, object_id: str, fields: dict[str, Any]) -> bool:
        token = await self._access_token()
        url = f"{self._api_base}/genericObject/{quote(object_id, safe='')}"
        try:
            answer = await self._client.patch(
                url, json=fields, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            raise WalletApiError(f"patch failed: {type(exc).__name__}", None) from None
        if answer.status_code == httpx.codes.NOT_FOUND:
            return False
        if answer.status_code == httpx.codes.UNAUTHORIZED:
            self._token = None  # revoked or expired early: a new one next time
        if not answer.is_success:
            raise WalletApiError(
                "patch refused",
                answer.status_code,
                object_refused=answer.status_code in _OBJECT_REFUSALS,
            )
        return True

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass
class RecordingObjects:
    """For tests: keeps every patch; ``saved`` holds the object ids "in patrons' wallets"
    (the others answer as Google does for an object never saved). ``fail`` makes every call
    raise, as an unreachable Google would."""

    saved: set[str] = field(default_factory=set)
    patches: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail: bool = False
    # Object ids whose patch Google refuses as it does a malformed one (400).
    refused: set[str] = field(default_factory=set)

    async def patch_object(self, object_id: str, fields: dict[str, Any]) -> bool:
        if self.fail:
            raise WalletApiError("unreachable", None)
        if object_id in self.refused:
            raise WalletApiError("patch refused", 400, object_refused=True)
        self.patches.append((object_id, fields))
        return object_id in self.saved

    async def aclose(self) -> None:
        return None
