"""The webhook relay: fans card events out to endpoints and delivers them, with retries,
exponential backoff and a final 'failed' that administrators see and can undo.

It follows the mail relay (``mail/relay.py``): a message is claimed in one short transaction
(the attempt counted and ``next_attempt_at`` pushed forward by a lease: the request timeout
plus a margin), sent after that commits, and its result recorded in another. PostgreSQL
locks the candidate with ``FOR UPDATE SKIP LOCKED``; on both engines the claim is a
conditional update that a second relay finds already done. Delivery is at-least-once: the
``webhook-id`` is the same on every attempt, for the receiver to drop repeats.

A delivery succeeds on a 2xx answer. Anything else (another status, a refused connection,
no answer within ``timeout`` seconds) is a failed attempt, retried after 1 min, 2 min, 4
min, ... doubling up to 12 h, each up to a quarter shorter at random; after
``MAX_ATTEMPTS`` (12, about 29 hours in all) the message is marked failed. Redirects are not
followed (Standard Webhooks: update the endpoint's URL instead).

An endpoint that fails once in a pass gets no more of its messages in that pass (they stay
due for the next): one that never answers costs a pass one timeout, not one per waiting
message, so the other endpoints' messages are not held up behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.db.base import utcnow
from cardservice.db.engine import Database
from cardservice.events import service, signing
from cardservice.events.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from cardservice.security.crypto import DecryptionError

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=12)
TIMEOUT_SECONDS = 10.0
LEASE_MARGIN = timedelta(seconds=10)
ERROR_LENGTH = 255

Clock = Callable[[], datetime]


def retry_delay(attempts: int, rng: random.Random) -> timedelta:
    """After attempt ``attempts`` (1-based): 1 min, 2 min, 4 min, ... at most 12 h, each
    up to a quarter shorter at random, so endpoints that failed together are not all
    retried at the same instant."""
    doublings = min(max(attempts - 1, 0), 16)
    delay = min(BACKOFF_CAP, BACKOFF_BASE * (1 << doublings))
    return delay * rng.uniform(0.75, 1.0)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    endpoint_id: int
    attempt: int
    url: str
    secrets: list[bytes]  # the current secret, then the replaced one during its overlap
    message_id: str
    body: bytes


class WebhookRelay:
    def __init__(
        self,
        db: Database,
        key: bytes,
        *,
        timeout: float = TIMEOUT_SECONDS,
        max_attempts: int = MAX_ATTEMPTS,
        batch_size: int = 20,
        poll_seconds: float = 3.0,
        rng: random.Random | None = None,
    ) -> None:
        """``key`` decrypts the endpoints' secrets (the document key); ``timeout`` bounds a
        whole request in seconds."""
        self.db = db
        self.key = key
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.lease = timedelta(seconds=timeout) + LEASE_MARGIN
        self.rng = rng or random.Random()  # noqa: S311  # jitter, not a secret

    async def run_once(self, now: datetime | None = None) -> int:
        """Fan out new card events, then send what is due (at ``now`` if given); returns how
        many messages were delivered, at most ``batch_size``."""
        clock: Clock = utcnow if now is None else (lambda: now)
        async with self.db.transaction() as session:
            await service.fan_out(session, now=clock())
        _, delivered = await self._pass(clock)
        return delivered

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; a failing pass is logged and tried again."""
        async with self._new_client() as client:
            self._client = client
            while not stop.is_set():
                claimed = 0
                try:
                    async with self.db.transaction() as session:
                        await service.fan_out(session)
                    claimed, _ = await self._pass(utcnow, stop)
                except Exception:
                    log.exception("webhook relay pass failed")
                if claimed >= self.batch_size:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_seconds)

    _client: httpx.AsyncClient | None = None
    _tls: ssl.SSLContext | None = None

    def _new_client(self) -> httpx.AsyncClient:
        """A client that never follows redirects; the TLS context (CA bundle loaded) is made
        once per relay, not per pass."""
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return httpx.AsyncClient(follow_redirects=False, verify=self._tls)

    async def _pass(self, clock: Clock, stop: asyncio.Event | None = None) -> tuple[int, int]:
        claimed = delivered = 0
        failing: set[int] = set()  # endpoints that failed in this pass (module docstring)
        async with contextlib.AsyncExitStack() as stack:
            client = self._client
            if client is None:
                client = await stack.enter_async_context(self._new_client())
            while claimed < self.batch_size and not (stop is not None and stop.is_set()):
                message = await self._claim(clock(), failing)
                if message is None:
                    break
                claimed += 1
                if await self._send(client, message, clock):
                    delivered += 1
                else:
                    failing.add(message.endpoint_id)
        return claimed, delivered

    async def _claim(self, now: datetime, skip: set[int] | None = None) -> Claimed | None:
        due = (
            select(WebhookDelivery, WebhookEndpoint)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(
                WebhookDelivery.status == DeliveryStatus.PENDING,
                WebhookDelivery.next_attempt_at <= now,
                WebhookEndpoint.disabled_at.is_(None),
                WebhookEndpoint.id.not_in(sorted(skip or ())),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(1)
            .with_for_update(of=WebhookDelivery, skip_locked=True)
        )
        async with self.db.transaction() as session:
            for _ in range(self.batch_size):
                found = (await session.execute(due)).first()
                if found is None:
                    return None
                claimed = await self._take(session, *found, now)
                if claimed is not None:
                    return claimed
        return None

    async def _take(
        self, session: AsyncSession, row: WebhookDelivery, endpoint: WebhookEndpoint, now: datetime
    ) -> Claimed | None:
        still_due = (
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == row.id,
                WebhookDelivery.status == DeliveryStatus.PENDING,
                WebhookDelivery.next_attempt_at <= now,
            )
            .execution_options(synchronize_session=False)
        )
        if row.attempts >= self.max_attempts:
            # Every attempt began and none recorded a result (crashes mid-send): stop here.
            await session.execute(
                still_due.values(
                    status=DeliveryStatus.FAILED,
                    last_error=row.last_error or "interrupted while sending",
                )
            )
            return None
        try:
            secrets = service.signing_secrets(endpoint, self.key, now)
        except DecryptionError:
            # Not worth retrying: the document key changed. A new endpoint gets a new secret.
            await session.execute(
                still_due.values(
                    status=DeliveryStatus.FAILED,
                    last_error="the signing secret cannot be decrypted with the document key",
                )
            )
            return None
        taken = await session.execute(
            still_due.values(attempts=row.attempts + 1, next_attempt_at=now + self.lease)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's CursorResult
            return None
        body = row.body.encode()
        return Claimed(
            row.id, endpoint.id, row.attempts + 1, endpoint.url, secrets, row.message_id, body
        )

    async def _send(self, client: httpx.AsyncClient, message: Claimed, clock: Clock) -> bool:
        headers = signing.signed_headers(
            message.secrets[0], message.message_id, message.body, clock(), *message.secrets[1:]
        )
        status: int | None = None
        error: str | None = None
        try:
            # Only the status line and headers are read: the answer's body is not ours to
            # hold, however large the endpoint makes it.
            async with (
                asyncio.timeout(self.timeout),
                client.stream(
                    "POST", message.url, content=message.body, headers=headers, timeout=self.timeout
                ) as response,
            ):
                status = response.status_code
                reason = response.reason_phrase
            if not 200 <= status < 300:
                error = f"HTTP {status} {reason}".strip()
        except (TimeoutError, httpx.TimeoutException):
            error = f"no answer within {self.timeout:g} s"
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            # InvalidURL and IDNA's ValueError: an address saved before it was checked as
            # the sender checks it now; recorded as a failed attempt, never a stuck message.
            error = " ".join(f"{type(exc).__name__}: {exc}".split())
        if error is not None:
            log.warning("webhook %s not delivered: %s", message.id, error)
        await self._record(message, clock(), status, error)
        return error is None

    async def _record(
        self, message: Claimed, now: datetime, status: int | None, error: str | None
    ) -> None:
        async with self.db.transaction() as session:
            row = await session.get(WebhookDelivery, message.id)
            # Only while the lease is ours: a relay that claimed it since decides now.
            if (
                row is None
                or row.status != DeliveryStatus.PENDING
                or row.attempts != message.attempt
            ):
                return
            row.last_status = status
            if error is None:
                row.status = DeliveryStatus.DELIVERED
                row.delivered_at = now
                row.last_error = None
                return
            row.last_error = error[:ERROR_LENGTH]
            if row.attempts >= self.max_attempts:
                row.status = DeliveryStatus.FAILED
            else:
                row.next_attempt_at = now + retry_delay(row.attempts, self.rng)


@contextlib.asynccontextmanager
async def webhook_background(db: Database, key: bytes) -> AsyncIterator[WebhookRelay]:
    """Run the relay until the block ends; the message in hand is finished first."""
    relay = WebhookRelay(db, key)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run_forever(stop), name="webhook-relay")
    try:
        yield relay
    finally:
        stop.set()
        await task
