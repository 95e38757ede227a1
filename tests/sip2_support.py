"""A small SIP2 client for the tests: real sockets, checksums and sequence numbers."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field

from cardservice.sip2.codec import checksum

KIOSK = "gate-1"
KIOSK_PASSWORD = "Kiosk0Password0Test0"  # 20 letters and digits, as the CLI makes them
DATE = "20261130    101500"
# A login hashes with Argon2 on a machine the whole suite shares: generous, never slept.
ANSWER_SECONDS = 30
# Fixed-field lengths of the answers (after the identifier), per the guide.
FIXED_LENGTHS = {"94": 1, "98": 34, "24": 35, "64": 59, "36": 19, "96": 0}


@dataclass
class Answer:
    """One answer line: its text before AY/AZ, and whether its checksum matched."""

    raw: bytes
    text: str = field(init=False)

    def __post_init__(self) -> None:
        body = self.raw.rstrip(b"\r")
        if b"AZ" in body[-8:]:
            at = body.rindex(b"AZ")
            assert checksum(body[: at + 2]) == body[at + 2 :].decode(), self.raw
            body = body[:at]
            if body[-3:-1] == b"AY":
                body = body[:-3]
        self.text = body.decode()

    def field(self, code: str) -> str | None:
        """A variable field's value (after the answer's fixed fields), or None."""
        fixed = FIXED_LENGTHS[self.text[:2]]
        for part in self.text[2 + fixed :].split("|"):
            if part.startswith(code):
                return part[2:]
        return None


class Sip2Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.sequence = 0

    @classmethod
    async def connect(cls, port: int, *, tls: ssl.SSLContext | None = None) -> Sip2Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=tls)
        return cls(reader, writer)

    async def send_raw(self, line: bytes) -> bytes:
        """Send ``line`` as it is; the answer line, or b"" when the server closed (within
        :data:`ANSWER_SECONDS`)."""
        self.writer.write(line)
        await self.writer.drain()
        try:
            return await asyncio.wait_for(self.reader.readuntil(b"\r"), ANSWER_SECONDS)
        except (asyncio.IncompleteReadError, ConnectionError):
            return b""

    async def send(self, text: str) -> Answer:
        """``text`` with AY (counting 0-9) and its checksum."""
        body = f"{text}AY{self.sequence}AZ".encode()
        self.sequence = (self.sequence + 1) % 10
        raw = await self.send_raw(body + checksum(body).encode() + b"\r")
        assert raw, f"the server closed the connection on {text!r}"
        return Answer(raw)

    async def login(self, name: str = KIOSK, password: str = KIOSK_PASSWORD) -> bool:
        return (await self.send(f"9300CN{name}|CO{password}|CPdesk|")).text == "941"

    async def patron_status(self, patron: str, *, language: str = "014") -> Answer:
        return await self.send(f"23{language}{DATE}AOminato|AA{patron}|AC|AD|")

    async def patron_information(self, patron: str, *, language: str = "001") -> Answer:
        return await self.send(f"63{language}{DATE}          AOminato|AA{patron}|")

    async def closed(self) -> bool:
        """Whether the server has closed the connection (reads EOF within ANSWER_SECONDS)."""
        try:
            return await asyncio.wait_for(self.reader.read(1), ANSWER_SECONDS) == b""
        except ConnectionError:
            return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()
