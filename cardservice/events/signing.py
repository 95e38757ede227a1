"""Standard Webhooks signatures (https://www.standardwebhooks.com, spec 1.0.0, symmetric).

A secret is 32 random bytes (the spec asks for 24 to 64), shown to people as
``whsec_<base64>``. A message carries three headers: ``webhook-id`` (the message id, the same
on every attempt), ``webhook-timestamp`` (integer Unix seconds of this attempt) and
``webhook-signature``: ``v1,<base64 HMAC-SHA256 over "{id}.{timestamp}.{body}">``, or several
such space-separated during the overlap after a change of secret (the new secret's first,
then the replaced one's: ``service.replace_secret``). The body is sent exactly as signed.
The tests verify these signatures with the ``standardwebhooks`` package, an implementation
independent of this one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

SECRET_PREFIX = "whsec_"  # noqa: S105  # the format's prefix, not a secret
SECRET_BYTES = 32


def new_secret() -> bytes:
    """32 random bytes for a new endpoint."""
    return secrets.token_bytes(SECRET_BYTES)


def format_secret(secret: bytes) -> str:
    """``whsec_`` and the standard base64 of ``secret``: what the receiver configures."""
    return SECRET_PREFIX + base64.b64encode(secret).decode("ascii")


def new_message_id() -> str:
    """``msg_`` and 128 random bits in URL-safe base64: no ``.``, as the spec requires."""
    return "msg_" + secrets.token_urlsafe(16)


def sign(secret: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value ``v1,<base64>`` for one attempt."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(
    secret: bytes, message_id: str, body: bytes, now: datetime, *also: bytes
) -> dict[str, str]:
    """The headers of one attempt at ``now`` (the attempt's time, not the event's), signed
    with ``secret`` and then each of ``also`` (the secret a change replaced, during its
    overlap): the signatures space-separated, as the spec allows for a rotation; a receiver
    accepts the message if any one of them matches its secret."""
    timestamp = int(now.timestamp())
    signatures = [sign(key, message_id, timestamp, body) for key in (secret, *also)]
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }
