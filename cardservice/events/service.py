"""Webhook endpoints and their messages: configure, fan out card events, retry, list.

Card events (``cards.models.CardEvent``) are written in the same transaction as the change
they record. ``fan_out`` turns each into one delivery row per enabled endpoint: the events
after the endpoint's ``after_event_id`` that it has no row for yet. It looks for missing rows
rather than keeping a plain cursor, because on PostgreSQL a transaction with a lower event
id can commit after one with a higher id; a cursor would step over it and lose it. Once a
pass has caught up, ``after_event_id`` moves past the events older than ``SETTLED`` (no
transaction stays open that long), so the search stays short as events accumulate. The
unique (endpoint, event) pair makes two relays fanning out at once harmless.

``CardEvent.delivered_at`` is not used: there is one per event, while delivery is per
endpoint; each delivery row has its own ``delivered_at``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards.models import Card, CardEvent
from cardservice.db.base import utcnow
from cardservice.errors import Conflict, InvalidInput, NotFound
from cardservice.events import messages, signing
from cardservice.events.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from cardservice.patrons.models import Patron
from cardservice.security import crypto

log = logging.getLogger(__name__)

URL_MAX = 500
DESCRIPTION_MAX = 200
# Card events turned into messages per pass and endpoint.
FAN_OUT_BATCH = 500
# Older card events are committed or never will be: the fan-out's search starts after them.
SETTLED = timedelta(minutes=10)
# How long a replaced signing secret still signs beside the new one (replace_secret).
DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=7)


class WebhookUrlInvalid(InvalidInput):
    """The endpoint must be an http:// or https:// address with a host name."""

    code = "webhook_url_invalid"


class WebhookUrlTaken(Conflict):
    """There is already an endpoint with this address."""

    code = "webhook_url_taken"


class EndpointNotFound(NotFound):
    """There is no such webhook endpoint."""

    code = "webhook_endpoint_not_found"


class DeliveryNotFound(NotFound):
    """There is no such webhook message."""

    code = "webhook_delivery_not_found"


class DeliveryNotFailed(Conflict):
    """Only a message that failed can be sent again."""

    code = "webhook_delivery_not_failed"


class OverlapInvalid(InvalidInput):
    """Choose how long the current secret is still accepted: one of the choices offered."""

    code = "webhook_overlap_invalid"


@dataclass(frozen=True, slots=True)
class NewEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # ``whsec_...``: shown to the administrator once, never again
    # After a change of secret with an overlap: until when the previous one signs too.
    previous_until: datetime | None = None


def checked_url(value: str) -> str:
    """``value`` stripped, if it is an absolute http(s) URL with a host and no user info,
    at most ``URL_MAX`` characters, that the sender's HTTP client can send to (a host that
    is no IDNA name, such as ``xn--`` or full-width letters, or a control character is
    refused here rather than failing every delivery); else :class:`WebhookUrlInvalid`
    (field ``url``)."""
    url = value.strip()
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
        _ = httpx.URL(url).host  # as the sender reads it: IDNAError (a ValueError), InvalidURL
    except (ValueError, httpx.InvalidURL):
        raise WebhookUrlInvalid(field="url") from None
    if (
        len(url) > URL_MAX
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or not port_ok
        or any(ch.isspace() for ch in url)
    ):
        raise WebhookUrlInvalid(field="url")
    return url


def secret_aad(endpoint_id: int) -> bytes:
    """Binds an encrypted secret to its endpoint: it cannot be moved to another row."""
    return f"webhook endpoint secret {endpoint_id}".encode()


def endpoint_secret(endpoint: WebhookEndpoint, key: bytes) -> bytes:
    """The raw signing secret; ``crypto.DecryptionError`` if the key changed."""
    return crypto.decrypt(key, endpoint.secret_blob, aad=secret_aad(endpoint.id))


async def create_endpoint(
    session: AsyncSession,
    url: str,
    *,
    key: bytes,
    description: str = "",
    staff_id: int | None = None,
    now: datetime | None = None,
) -> NewEndpoint:
    """A new endpoint with a fresh secret, encrypted under ``key`` (the document key).
    Events recorded before it are not sent to it. Raises :class:`WebhookUrlInvalid`, and
    :class:`WebhookUrlTaken` for an address already added (so a form sent twice, say by
    reloading the page that showed the secret, does not add a second endpoint)."""
    checked = checked_url(url)
    if await session.scalar(select(WebhookEndpoint.id).where(WebhookEndpoint.url == checked)):
        raise WebhookUrlTaken(field="url")
    endpoint = WebhookEndpoint(
        url=checked,
        description=description.strip()[:DESCRIPTION_MAX],
        after_event_id=await session.scalar(select(func.coalesce(func.max(CardEvent.id), 0))),
        created_at=now or utcnow(),
        created_by=staff_id,
    )
    session.add(endpoint)
    await session.flush()
    secret = signing.new_secret()
    endpoint.secret_blob = crypto.encrypt(key, secret, aad=secret_aad(endpoint.id))
    await session.flush()
    return NewEndpoint(endpoint, signing.format_secret(secret))


async def replace_secret(
    session: AsyncSession,
    endpoint_id: int,
    *,
    key: bytes,
    overlap: timedelta = DEFAULT_OVERLAP,
    now: datetime | None = None,
) -> NewEndpoint:
    """A fresh secret for the endpoint; messages sent from now on are signed with it,
    waiting ones included. For ``overlap`` after the change they are signed with the
    replaced secret too (Standard Webhooks: several signatures in ``webhook-signature``), so
    the receiver goes on accepting them until it has the new one; no overlap (a secret that
    leaked) stops the replaced one at once. Only the secret replaced now overlaps: one
    replaced by an earlier change stops at once. The replaced secret stays encrypted as it
    was (the same blob, bound to this endpoint). Raises :class:`EndpointNotFound`, and
    :class:`OverlapInvalid` for an overlap below zero or over ``MAX_OVERLAP``."""
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        raise OverlapInvalid(field="overlap_hours")
    endpoint = await get_endpoint(session, endpoint_id)
    until = (now or utcnow()) + overlap if overlap else None
    endpoint.previous_secret_blob = endpoint.secret_blob if until else None
    endpoint.previous_secret_until = until
    secret = signing.new_secret()
    endpoint.secret_blob = crypto.encrypt(key, secret, aad=secret_aad(endpoint.id))
    await session.flush()
    return NewEndpoint(endpoint, signing.format_secret(secret), until)


def overlap_until(endpoint: WebhookEndpoint, now: datetime) -> datetime | None:
    """Until when the previous secret still signs beside the current one, or None."""
    until = endpoint.previous_secret_until
    if endpoint.previous_secret_blob is None or until is None or until <= now:
        return None
    return until


def signing_secrets(endpoint: WebhookEndpoint, key: bytes, now: datetime) -> list[bytes]:
    """The raw secrets that sign a message sent at ``now``: the current one, then the
    previous one during its overlap. ``crypto.DecryptionError`` if the current one cannot
    be decrypted; a previous one that cannot is left out (logged), the current one signs."""
    secrets = [endpoint_secret(endpoint, key)]
    if endpoint.previous_secret_blob is not None and overlap_until(endpoint, now) is not None:
        try:
            previous = crypto.decrypt(
                key, endpoint.previous_secret_blob, aad=secret_aad(endpoint.id)
            )
        except crypto.DecryptionError:
            log.warning("webhook endpoint %s: the previous secret cannot be decrypted", endpoint.id)
        else:
            secrets.append(previous)
    return secrets


async def get_endpoint(session: AsyncSession, endpoint_id: int) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise EndpointNotFound(id=endpoint_id)
    return endpoint


async def set_enabled(
    session: AsyncSession, endpoint_id: int, enabled: bool, *, now: datetime | None = None
) -> WebhookEndpoint:
    """Enable or disable; while disabled nothing is sent and nothing new is queued for it
    (events in between are queued when it is enabled again)."""
    endpoint = await get_endpoint(session, endpoint_id)
    endpoint.disabled_at = None if enabled else (endpoint.disabled_at or now or utcnow())
    await session.flush()
    return endpoint


async def queue_test(
    session: AsyncSession, endpoint_id: int, *, now: datetime | None = None
) -> WebhookDelivery:
    """A ``webhook.test`` message to one endpoint, due now."""
    endpoint = await get_endpoint(session, endpoint_id)
    when = now or utcnow()
    row = _delivery(endpoint.id, None, messages.TEST_TYPE, messages.probe_body(endpoint.id, when))
    row.created_at = row.next_attempt_at = when
    session.add(row)
    await session.flush()
    return row


def _delivery(
    endpoint_id: int, event_id: int | None, event_type: str, body: str
) -> WebhookDelivery:
    return WebhookDelivery(
        endpoint_id=endpoint_id,
        card_event_id=event_id,
        message_id=signing.new_message_id(),
        event_type=event_type,
        body=body,
        status=DeliveryStatus.PENDING,
        attempts=0,
    )


async def fan_out(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Queue the card events each enabled endpoint has not got yet, at most
    ``FAN_OUT_BATCH`` per endpoint; returns how many rows were added. Kinds not in
    ``messages.EVENT_TYPES`` (imports from the library system) are skipped."""
    when = now or utcnow()
    endpoints = list(
        await session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.disabled_at.is_(None)))
    )
    added = 0
    for endpoint in endpoints:
        missing = (
            select(CardEvent, Patron, Card)
            .join(Patron, Patron.id == CardEvent.patron_id)
            .outerjoin(Card, Card.user_number == CardEvent.user_number)
            .where(
                CardEvent.id > endpoint.after_event_id,
                CardEvent.kind.in_(list(messages.EVENT_TYPES)),
                ~exists().where(
                    WebhookDelivery.endpoint_id == endpoint.id,
                    WebhookDelivery.card_event_id == CardEvent.id,
                ),
            )
            .order_by(CardEvent.id)
            .limit(FAN_OUT_BATCH)
        )
        found = list((await session.execute(missing)).all())
        for event, patron, card in found:
            row = _delivery(
                endpoint.id,
                event.id,
                messages.EVENT_TYPES[event.kind],
                messages.event_body(event, patron, card),
            )
            row.created_at = row.next_attempt_at = when
            try:
                async with session.begin_nested():  # another relay may have added it
                    session.add(row)
            except IntegrityError:
                continue
            added += 1
        if len(found) < FAN_OUT_BATCH:  # caught up: everything settled is queued
            settled = await session.scalar(
                select(func.max(CardEvent.id)).where(CardEvent.created_at <= when - SETTLED)
            )
            endpoint.after_event_id = max(endpoint.after_event_id, settled or 0)
    return added


async def retry_failed(
    session: AsyncSession, delivery_id: int, *, now: datetime | None = None
) -> WebhookDelivery:
    """Put a failed message back in the queue, due now, with a fresh set of attempts."""
    row = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if row is None:
        raise DeliveryNotFound(id=delivery_id)
    if row.status != DeliveryStatus.FAILED:
        raise DeliveryNotFailed(id=delivery_id, status=row.status)
    row.status = DeliveryStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = now or utcnow()
    await session.flush()
    return row


@dataclass(frozen=True, slots=True)
class EndpointSummary:
    endpoint: WebhookEndpoint
    pending: int
    failed: int


async def endpoint_summaries(session: AsyncSession) -> list[EndpointSummary]:
    """Every endpoint, oldest first, with how many of its messages wait or failed."""
    endpoints = list(await session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))
    counts = await session.execute(
        select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count())
        .where(WebhookDelivery.status != DeliveryStatus.DELIVERED)
        .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status)
    )
    by_key = {(endpoint_id, status): n for endpoint_id, status, n in counts.all()}
    return [
        EndpointSummary(
            e, by_key.get((e.id, DeliveryStatus.PENDING), 0), by_key.get((e.id, "failed"), 0)
        )
        for e in endpoints
    ]


async def recent_deliveries(
    session: AsyncSession, endpoint_id: int, *, limit: int = 100
) -> list[WebhookDelivery]:
    """The delivery log of one endpoint: undelivered messages first (failed, then waiting),
    then the newest delivered, up to ``limit`` rows."""
    order = (
        (WebhookDelivery.status == DeliveryStatus.DELIVERED).asc(),
        (WebhookDelivery.status == DeliveryStatus.PENDING).asc(),
        WebhookDelivery.id.desc(),
    )
    result = await session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(*order)
        .limit(limit)
    )
    return list(result)
