"""The SMTP side: where to send (from a URL), the MIME message, and one delivery.

``smtp://user:pass@host:port`` speaks plain SMTP and upgrades with STARTTLS when the server
offers it; ``?starttls=1`` requires the upgrade and ``?starttls=0`` never tries it.
``smtps://`` is TLS from the first byte (implicit TLS, port 465 by default).

Addresses arrive in the form ``mail.addresses`` stores: an ASCII (IDNA) domain, and a local
part quoted only when it is a carrier's legacy dotted one. That form goes into the To header
as it is, and into ``RCPT TO`` quoted as RFC 5321 (section 4.1.2) requires, never as an
RFC 2047 encoded word (which RFC 2047 section 5 forbids in an address). A local part that
is not ASCII needs a server with SMTPUTF8 (RFC 6531); without it the email cannot be sent
to that address at all, which :class:`RecipientNeedsSmtpUtf8` says for good.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from cardservice.errors import ConfigurationError
from cardservice.mail.addresses import needs_smtputf8

SMTP_URL_KEY = "CARDSERVICE_SMTP_URL"
# Bodies in quoted-printable or base64, so no relay on the way needs 8BITMIME.
MAIL_POLICY = SMTP.clone(cte_type="7bit")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
# RFC 5321 Dot-string: a local part that goes into RCPT TO without quotes.
_DOT_STRING = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


class RecipientNeedsSmtpUtf8(Exception):
    """The address's local part is not ASCII and the mail server does not offer SMTPUTF8.

    Not an ``SMTPException``: trying again cannot help, so the relay fails the email at
    once (``relay.is_permanent``) and staff read this message as the reason.
    """

    def __init__(self, address: str) -> None:
        super().__init__(
            f"the mail server does not accept international addresses (no SMTPUTF8), so "
            f"{address} cannot be sent to; ask the patron for an address in ASCII letters"
        )


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False  # implicit TLS (smtps)
    start_tls: bool | None = None  # None: upgrade if offered; True: required; False: never
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigurationError(SMTP_URL_KEY, "use smtp://user:pass@host:port or smtps://")
        implicit = parts.scheme == "smtps"
        try:
            port = parts.port or (465 if implicit else 25)
        except ValueError:
            raise ConfigurationError(SMTP_URL_KEY, "the port must be a number") from None
        query = parse_qs(parts.query)
        return cls(
            host=parts.hostname,
            port=port,
            # Percent-decoded, so a password may contain '@', ':' or '/'.
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit,
            start_tls=None if implicit else _flag(query.get("starttls", [""])[-1]),
            timeout=_timeout(query.get("timeout", ["30"])[-1]),
        )

    def redact(self, text: str) -> str:
        """``text`` without the password, for errors that are stored and shown to staff."""
        return text.replace(self.password, "***") if self.password else text


@dataclass(frozen=True, slots=True)
class Sender:
    """The library as the author of its mail: one address, a display name per language."""

    address: str
    names: Mapping[str, str]

    def mailbox(self, language: str) -> Address:
        name = self.names.get(language) or next(iter(self.names.values()), "")
        username, _, domain = self.address.partition("@")
        return Address(display_name=name, username=username, domain=domain)

    @property
    def domain(self) -> str:
        return self.address.partition("@")[2]


@dataclass(frozen=True, slots=True)
class Envelope:
    """Everything about one email that goes on the wire."""

    to_address: str
    language: str
    subject: str
    body_text: str
    body_html: str
    message_id: str


def build_message(mail: Envelope, sender: Sender, *, date: datetime) -> EmailMessage:
    """Plain text with an HTML alternative; headers encoded for Japanese (RFC 2047), except
    for an address with a non-ASCII local part, which goes as UTF-8 (RFC 6532) over SMTPUTF8.
    """
    international = needs_smtputf8(mail.to_address)
    message = EmailMessage(policy=MAIL_POLICY.clone(utf8=True) if international else MAIL_POLICY)
    message["From"] = sender.mailbox(mail.language)
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = mail.message_id
    # RFC 3834: machine-sent, so vacation responders and the like do not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.body_text, charset="utf-8")
    message.add_alternative(mail.body_html, subtype="html", charset="utf-8")
    # After the parts: making the message multipart moves Content-* headers into a part.
    message["Content-Language"] = mail.language
    return message


async def deliver(target: SmtpTarget, message: EmailMessage) -> None:
    """Hand ``message`` to the server; returns only once the server has accepted it.

    Raises :class:`RecipientNeedsSmtpUtf8` when a recipient needs SMTPUTF8 and the server
    does not offer it, and aiosmtplib's errors otherwise."""
    recipients = [rcpt_path(address) for address in message["To"].addresses]
    try:
        await _send(target, message, recipients)
    except aiosmtplib.SMTPNotSupported as exc:
        international = [address for address in recipients if not address.isascii()]
        if international:
            raise RecipientNeedsSmtpUtf8(", ".join(international)) from exc
        raise


def rcpt_path(address: Address) -> str:
    """``address`` as ``RCPT TO`` takes it: the local part quoted unless it is a Dot-string
    (RFC 5321 section 4.1.2), so ``taro..yamada`` goes as ``"taro..yamada"``."""
    local = address.username
    if not _DOT_STRING.match(local) and local.isascii():
        local = '"' + local.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{local}@{address.domain}"


async def _send(target: SmtpTarget, message: EmailMessage, recipients: list[str]) -> None:
    await aiosmtplib.send(
        message,
        recipients=recipients,
        hostname=target.host,
        port=target.port,
        username=target.username,
        password=target.password,
        use_tls=target.use_tls,
        start_tls=target.start_tls,
        timeout=target.timeout,
    )


def _flag(raw: str) -> bool | None:
    value = raw.strip().lower()
    if value == "":
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(SMTP_URL_KEY, f"starttls must be 1 or 0, not {raw!r}")


def _timeout(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise ConfigurationError(SMTP_URL_KEY, f"timeout must be a positive number, not {raw!r}")
    return value
