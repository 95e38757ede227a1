"""The built-in mail catcher: a local SMTP server that keeps mail instead of delivering it.

In dev mode with no SMTP server configured, the relay sends to the catcher, and a staff page
lists what arrived, so a person can follow the links without a mail server.

aiosmtpd's ``Controller`` runs its own event loop in a thread, and a database engine must
stay on the loop that made it. So the SMTP handler does not touch the database: it hands each
message to the service's own loop (``run_coroutine_threadsafe``) and waits there for the
commit before answering ``250``. A message the catcher acknowledged is stored, and a failed
write answers ``451`` so the sender keeps the message and tries again.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from html.parser import HTMLParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.db.base import utcnow
from cardservice.db.engine import Database
from cardservice.errors import ConfigurationError
from cardservice.mail.errors import MailNotFound
from cardservice.mail.models import CaughtMail
from cardservice.settings import Settings

log = logging.getLogger(__name__)

CATCHER_HOST = "127.0.0.1"
# Characters a URL may contain (RFC 3986); Japanese text often follows a link with no space.
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_URL_TRAILER = ".,;:!?)]'"


class CatcherUnavailable(ConfigurationError):
    """The catcher cannot listen at all; the service does not start without it in dev."""

    def __init__(self, host: str, port: int, error: OSError) -> None:
        where = f"{host}:{port}" if port else f"any free port on {host}"
        super().__init__(
            "CARDSERVICE_MAIL_CATCHER_PORT",
            f"the dev mail catcher cannot listen on {where} ({error.strerror or error}); "
            "set CARDSERVICE_SMTP_URL to use a mail server instead",
        )


def uses_catcher(settings: Settings) -> bool:
    """Whether this process should run the catcher: dev mode with no SMTP server set."""
    return not settings.production and not settings.smtp_url


def effective_smtp_url(settings: Settings) -> str:
    """The configured SMTP server, or the catcher's address in dev mode without one.

    The catcher's address is the port it listens on, which is known once it has started:
    ``mail_background`` passes settings holding that port. Port 0 (a free port, not yet
    taken) raises ``ConfigurationError`` rather than guessing another instance's catcher.
    """
    if settings.smtp_url:
        return settings.smtp_url
    if uses_catcher(settings):
        if not settings.mail_catcher_port:
            raise ConfigurationError(
                "CARDSERVICE_MAIL_CATCHER_PORT", "the catcher's port is known once it listens"
            )
        return f"smtp://{CATCHER_HOST}:{settings.mail_catcher_port}"
    raise ConfigurationError("CARDSERVICE_SMTP_URL", "is required in production mode")


@dataclass(frozen=True, slots=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes


class _Handler:
    """aiosmtpd's handler; runs on the controller's thread and loop."""

    def __init__(
        self,
        store: Callable[[Received], Coroutine[Any, Any, None]],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._store = store
        self._loop = loop

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802  # aiosmtpd's hook name
        raw = envelope.original_content or b""
        received = Received(envelope.mail_from or "", list(envelope.rcpt_tos), raw)
        future = asyncio.run_coroutine_threadsafe(self._store(received), self._loop)
        try:
            await asyncio.wrap_future(future)
        except Exception:
            log.exception("mail catcher could not store a message")
            return "451 Requested action aborted: could not store the message"
        return "250 Message accepted for delivery"


class _ListeningController(Controller):
    """aiosmtpd's controller serving a socket that is already bound and listening, so the
    port is known (and a taken port reported) before the SMTP thread starts."""

    def __init__(self, handler: _Handler, listener: socket.socket, **options: Any) -> None:
        self._listener = listener
        host, port = listener.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **options)

    def _create_server(self) -> Coroutine[Any, Any, asyncio.Server]:
        return self.loop.create_server(
            self._factory_invoker, sock=self._listener, ssl=self.ssl_context
        )


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0: a free port); ``OSError`` if taken."""
    return socket.create_server((host, port), backlog=100)


class MailCatcher:
    """Start with ``await catcher.start()`` on the service's loop; ``await stop()`` at exit.

    ``port`` is the port wanted: 0 takes a free one. A wanted port that is taken (another
    instance's catcher, or another program) is not shared: the catcher logs a warning and
    takes a free port instead. Either way ``port`` is the port it listens on once started,
    and that is where this instance's relay must send (``mail_background``), so mail never
    reaches another instance's catcher.
    """

    def __init__(self, db: Database, *, port: int = 0, host: str = CATCHER_HOST) -> None:
        self.db = db
        self.host = host
        self.port = port
        self._controller: Controller | None = None

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> MailCatcher:
        return cls(db, port=settings.mail_catcher_port)

    async def start(self) -> None:
        """Listen and serve; raises ``CatcherUnavailable`` if no port can be had at all."""
        # aiosmtpd logs every SMTP command at INFO, recipients included: keep them out of logs.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        listener = self._bind()
        handler = _Handler(self._store, asyncio.get_running_loop())
        # A fixed server name: the default looks up the host's FQDN, which can stall on DNS.
        controller = _ListeningController(handler, listener, server_hostname="cardservice.catcher")
        # Starting blocks until the thread answers; off the loop, which must keep serving.
        try:
            await asyncio.to_thread(controller.start)
        except Exception:
            # The thread has ended, but its loop is left open and the socket bound.
            await asyncio.to_thread(controller.stop, no_assert=True)
            if not controller.loop.is_closed():
                controller.loop.close()
            listener.close()
            raise
        self._controller = controller
        self.port = controller.port
        log.info("mail catcher listening on %s:%s", self.host, self.port)

    def _bind(self) -> socket.socket:
        wanted = self.port
        if wanted:
            try:
                return _listen(self.host, wanted)
            except OSError as error:
                if error.errno != errno.EADDRINUSE:
                    raise CatcherUnavailable(self.host, wanted, error) from error
                log.warning(
                    "mail catcher port %s is taken (another instance, or another program); "
                    "this instance catches its mail on a free port instead",
                    wanted,
                )
        try:
            return _listen(self.host, 0)
        except OSError as error:
            raise CatcherUnavailable(self.host, 0, error) from error

    async def stop(self) -> None:
        if self._controller is not None:
            controller, self._controller = self._controller, None
            await asyncio.to_thread(controller.stop)

    async def __aenter__(self) -> MailCatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _store(self, received: Received) -> None:
        async with self.db.transaction() as session:
            store_caught(session, received)


def store_caught(
    session: AsyncSession, received: Received, *, now: datetime | None = None
) -> CaughtMail:
    message = message_from_bytes(received.raw, _class=EmailMessage, policy=default_policy)
    row = CaughtMail(
        received_at=now or utcnow(),
        mail_from=received.mail_from[:254],
        rcpt_tos="\n".join(received.rcpt_tos),
        # The policy decodes RFC 2047 words; a folded subject keeps its fold's space.
        subject=" ".join(str(message.get("Subject", "")).split()),
        body_text=_body(message, "plain"),
        body_html=_body(message, "html"),
        raw=received.raw,
    )
    session.add(row)
    return row


def _body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return ""
    try:
        content: Any = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: show what we can
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return str(content)


async def list_caught(session: AsyncSession, *, limit: int = 50) -> list[CaughtMail]:
    """The newest caught messages first."""
    result = await session.scalars(select(CaughtMail).order_by(CaughtMail.id.desc()).limit(limit))
    return list(result)


async def get_caught(session: AsyncSession, mail_id: int) -> CaughtMail:
    row = await session.get(CaughtMail, mail_id)
    if row is None:
        raise MailNotFound(id=mail_id)
    return row


def extract_links(mail: CaughtMail) -> list[str]:
    """The http(s) links in a caught message, from the HTML hrefs and the text, in order."""
    found = [*_hrefs(mail.body_html), *_text_links(mail.body_text)]
    return list(dict.fromkeys(found))


def _text_links(text: str) -> list[str]:
    return [match.rstrip(_URL_TRAILER) for match in _URL.findall(text)]


class _HrefParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href") if tag == "a" else None
        if href and href.startswith(("http://", "https://")):
            self.hrefs.append(href)


def _hrefs(html: str) -> list[str]:
    parser = _HrefParser()
    parser.feed(html)
    parser.close()
    return parser.hrefs
