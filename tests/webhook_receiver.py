"""A real HTTP receiver for webhook tests: an asyncio server on a free port that verifies
each message with the ``standardwebhooks`` package (an implementation independent of ours)
and answers as the test says: 204, 500, or never (it holds the connection open)."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

Mode = Literal["ok", "fail", "hang"]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool
    payload: Any = None


@dataclass
class Receiver:
    secret: str = ""  # whsec_..., set once the endpoint exists
    mode: Mode = "ok"
    received: list[Received] = field(default_factory=list)
    port: int = 0
    scheme: str = "http"
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _hung: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/hooks/ils"

    def verified(self) -> list[Any]:
        """The payloads whose signature checked out, in order."""
        return [r.payload for r in self.received if r.verified]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        message = Received(headers, body, verified=False)
        try:
            message.payload = Webhook(self.secret).verify(body, headers)
            message.verified = True
        except WebhookVerificationError:
            message.payload = json.loads(body)
        self.received.append(message)
        self.arrived.set()
        if self.mode == "hang":
            self._hung.append(writer)  # never answered; closed when the receiver stops
            return
        status = b"204 No Content" if self.mode == "ok" else b"500 Internal Server Error"
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


@asynccontextmanager
async def webhook_receiver(tls: ssl.SSLContext | None = None) -> AsyncIterator[Receiver]:
    """A receiver on a free port; over HTTPS with ``tls`` (a server context)."""
    receiver = Receiver(scheme="https" if tls is not None else "http")
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0, ssl=tls)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        for writer in receiver._hung:
            writer.close()
        server.close()
        await server.wait_closed()
