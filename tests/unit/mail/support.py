"""A real SMTP server for tests, and helpers shared by the mail relay tests.

``SmtpSink`` is aiosmtpd in-process on a free port: the relay really speaks SMTP to it and the
tests read the MIME that arrived. (Other domains' tests may want it too: it could move to a
shared ``tests/support`` package.)
"""

from __future__ import annotations

import random
import socket
import threading
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from cardservice.mail import MailRelay, OutboxRow, OutgoingMail, enqueue
from cardservice.mail.letterhead import Letterhead
from cardservice.mail.smtp import Sender, SmtpTarget
from cardservice.services import Services

LINK = "https://cards.example.org/register/verify?t=AbC123"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class SmtpSink:
    """A real SMTP server on 127.0.0.1 that keeps what it receives."""

    def __init__(
        self, port: int, *, refuse: frozenset[str] = frozenset(), smtputf8: bool = True
    ) -> None:
        self.port = port
        self.refuse = refuse
        self.smtputf8 = smtputf8  # offer SMTPUTF8 (RFC 6531), as aiosmtpd's Controller does
        self.envelopes: list[Envelope] = []
        self.logins: list[tuple[bytes, bytes]] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    async def handle_RCPT(  # noqa: N802  # aiosmtpd's hook names
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        with self._lock:
            self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        # handled=False: let aiosmtpd answer 535 itself on a wrong password.
        return AuthResult(success=data.password == b"p@ss:w/rd", handled=False)

    def start(self, *, auth: bool = False) -> None:
        # AUTH over plain text is fine against 127.0.0.1 in a test, and only then advertised.
        self._controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            server_hostname="sink.test",
            authenticator=self.authenticate if auth else None,
            auth_require_tls=not auth,
            enable_SMTPUTF8=self.smtputf8,
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[EmailMessage]:
        with self._lock:
            raws = [envelope.original_content or b"" for envelope in self.envelopes]
        return [message_from_bytes(raw, _class=EmailMessage, policy=default_policy) for raw in raws]


def library_sender(services: Services) -> Sender:
    library = services.settings.profile.library
    return Sender(library.sender_email, {"ja": library.name.ja, "en": library.name.en})


def relay_to(
    services: Services,
    port: int,
    *,
    max_attempts: int = 8,
    batch_size: int = 20,
    poll_seconds: float = 3.0,
) -> MailRelay:
    return MailRelay(
        services.db,
        SmtpTarget("127.0.0.1", port, start_tls=False, timeout=5),
        library_sender(services),
        max_attempts=max_attempts,
        batch_size=batch_size,
        poll_seconds=poll_seconds,
        rng=random.Random(1),
    )


def verify_mail(to: str = "hanako@example.org", lang: str = "ja") -> OutgoingMail:
    context = {
        "link": LINK,
        "expires_hours": 24,
        "library": Letterhead(
            name="Yokohama Minato Library" if lang == "en" else "横浜市立みなと図書館",
            email="library@example.org",
        ),
    }
    return OutgoingMail(to, "verify_email", lang, context)  # type: ignore[arg-type]


async def queue(services: Services, *mails: OutgoingMail) -> list[int]:
    async with services.db.transaction() as session:
        return [(await enqueue(session, mail)).id for mail in mails]


async def outbox_row(services: Services, mail_id: int) -> OutboxRow:
    async with services.db.transaction() as session:
        row = await session.get(OutboxRow, mail_id)
    assert row is not None
    return row
