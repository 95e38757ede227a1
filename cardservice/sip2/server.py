"""The SIP2 server: one asyncio task per kiosk connection, over TCP or TLS.

A connection must log in first (93, checked against the kiosk accounts): until then any
other request closes it. After login it answers SC Status (99 -> 98), Patron Status
(23 -> 24), Patron Information (63 -> 64), End Patron Session (35 -> 36) and Request ACS
Resend (97: the last answer again). The patron answers are the verify API's verdicts
(``cards/counter.py``), so a valid scan records the card's last use as the API does. A
patron request with AD (the patron's password) is answered with CQ, the password checked as
patron login checks it, with its rate limits (``sip2/patron_password.py``).

Bad input never ends the server, only at most its connection:

- a wrong checksum, or a line that is no readable message: 96 (Request SC Resend), the
  guide's answer; after :data:`MAX_RESENDS` of them in a row the connection closes;
- an identifier this server does not answer, a line over :data:`codec.MAX_LINE` bytes, a
  request before login, :data:`MAX_FAILED_LOGINS` wrong logins, or a login from an address
  over the failed-login limit (``kiosks.LOGIN_LIMIT``): the connection closes;
- a connection silent for ``idle_seconds`` closes, or for ``login_seconds`` before it has
  logged in (a kiosk logs in as soon as it connects; an idle stranger holds no socket
  for ten minutes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

from cardservice.cards.counter import scan
from cardservice.services import Services
from cardservice.sip2 import answers
from cardservice.sip2.codec import (
    MAX_LINE,
    BadChecksum,
    Malformed,
    Request,
    UnknownMessage,
    clean,
    parse,
    resend,
    response,
    sip_date,
)
from cardservice.sip2.kiosks import Login, check_login
from cardservice.sip2.patron_password import check_patron_password

log = logging.getLogger(__name__)

MAX_RESENDS: Final = 3
MAX_FAILED_LOGINS: Final = 3
DEFAULT_IDLE_SECONDS: Final = 600.0
DEFAULT_LOGIN_SECONDS: Final = 30.0
PROTOCOL_VERSION: Final = "2.00"
# BX, the messages supported, in the guide's order: patron status, checkout, checkin, block
# patron, SC/ACS status, request resend, login, patron information, end patron session,
# fee paid, item information, item status update, patron enable, hold, renew, renew all.
SUPPORTED_MESSAGES: Final = "YNNNYYYYYNNNNNNN"


class Close(Exception):  # a signal, not an error
    """End this connection (the reason is logged)."""


@dataclass
class _Connection:
    kiosk: str | None = None
    last: bytes | None = None
    resends: int = 0
    failed_logins: int = 0
    closing: str | None = None  # answer, then close for this reason


class Sip2Server:
    """Answers SIP2 for one library: ``institution`` is the AO sent in 98 (requests' own AO
    is echoed in their answers), the library's name goes in AM."""

    def __init__(
        self,
        services: Services,
        *,
        institution: str,
        secret: bytes = b"",
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        login_seconds: float = DEFAULT_LOGIN_SECONDS,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._svc = services
        self._institution = institution
        self._secret = secret
        self._idle = idle_seconds
        self._login_idle = min(login_seconds, idle_seconds)
        zone = ZoneInfo(services.settings.profile.library.timezone)
        self._clock = clock or (lambda: datetime.now(UTC).astimezone(zone))

    async def start(
        self, host: str, port: int, *, tls: ssl.SSLContext | None = None
    ) -> asyncio.Server:
        """Listen on ``host:port`` (TLS with ``tls``); the caller serves and closes it."""
        return await asyncio.start_server(self.handle, host, port, ssl=tls, limit=MAX_LINE)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One kiosk connection, until it closes, idles out or is closed for bad input."""
        state = _Connection()
        peer = writer.get_extra_info("peername")
        try:
            while True:
                idle = self._idle if state.kiosk is not None else self._login_idle
                line = await asyncio.wait_for(reader.readuntil(b"\r"), idle)
                answer = await self._answer(state, line, peer)
                writer.write(answer)
                await writer.drain()
                if state.closing is not None:
                    log.info("sip2: closing %s (%s)", peer, state.closing)
                    break
        except Close as reason:
            log.info("sip2: closing %s (%s)", peer, reason)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass  # idle, hung up, or reset: nothing to answer
        except asyncio.LimitOverrunError:
            log.info("sip2: closing %s (a line over %d bytes)", peer, MAX_LINE)
        except Exception:
            log.exception("sip2: unexpected error; closing %s", peer)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()

    async def _answer(self, state: _Connection, line: bytes, peer: object) -> bytes:
        try:
            request = parse(line)
        except (BadChecksum, Malformed) as error:
            state.resends += 1
            if state.resends > MAX_RESENDS:
                raise Close("too many unreadable messages") from error
            return resend()
        except UnknownMessage as error:
            raise Close(f"message {error.ident} is not supported") from error
        state.resends = 0
        if request.ident == "97":
            return state.last or resend()
        if request.ident == "93":
            answer = await self._login(state, request, _address(peer))
        elif state.kiosk is None:
            raise Close(f"message {request.ident} before login")
        else:
            answer = response(await self._logged_in(request, state.kiosk), request)
        state.last = answer
        return answer

    async def _login(self, state: _Connection, request: Request, client: str) -> bytes:
        name, password = request.get("CN"), request.get("CO")
        # Algorithm 0 is the only one the guide defines: user id and password in the clear.
        outcome = Login.REFUSED
        if request.fixed == "00":
            outcome = await check_login(
                self._svc.db, name, password, client=client, secret=self._secret
            )
        ok = outcome is Login.OK
        if ok:
            state.kiosk, state.failed_logins = name, 0
        else:
            state.kiosk = None
            state.failed_logins += 1
        if outcome is Login.LIMITED:
            state.closing = "too many failed logins from this address"
        elif state.failed_logins >= MAX_FAILED_LOGINS:
            state.closing = "too many failed logins"
        return response(f"94{1 if ok else 0}", request)

    async def _logged_in(self, request: Request, kiosk: str) -> str:
        now = self._clock()
        if request.ident == "99":
            return self._acs_status(now)
        if request.ident == "35":
            return f"36Y{sip_date(now)}AO{clean(request.get('AO'))}|AA{clean(request.get('AA'))}|"
        language = request.fixed[:3] if request.fixed[:3].isdigit() else "000"
        patron = request.get("AA")
        found = await scan(self._svc.verifier, self._svc.reader, patron)
        password = None
        if "AD" in request.fields:  # the patron's password: CQ answers it (patron_password.py)
            password = await check_patron_password(
                self._svc.db,
                found.verdict,
                request.get("AD"),
                kiosk=kiosk,
                secret=self._secret,
            )
        build = (
            answers.patron_status_response
            if request.ident == "23"
            else answers.patron_information_response
        )
        return build(
            found,
            language=language,
            institution=request.get("AO"),
            patron=patron,
            now=now,
            password=password,
        )

    def _acs_status(self, now: datetime) -> str:
        name = self._svc.settings.profile.library.name.get("ja")
        # Online; no checkin, checkout, renewal, status update or offline operation here
        # (circulation is the library system's); timeout 030 (3 s), retries 003.
        return (
            f"98YNNNNN030003{sip_date(now)}{PROTOCOL_VERSION}"
            f"AO{clean(self._institution)}|AM{clean(name)}|BX{SUPPORTED_MESSAGES}|"
        )


def _address(peer: object) -> str:
    """The client's IP address from a socket's peer name (host, port, ...), or ""."""
    if isinstance(peer, tuple) and peer and isinstance(peer[0], str):
        return peer[0]
    return ""
