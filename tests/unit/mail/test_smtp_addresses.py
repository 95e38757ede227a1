"""Addresses on the wire: IDNA domains, quoted legacy local parts, SMTPUTF8 or a lasting no."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email.headerregistry import Address
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from cardservice.mail.addresses import normalise_address
from cardservice.mail.relay import is_permanent
from cardservice.mail.smtp import (
    Envelope,
    RecipientNeedsSmtpUtf8,
    Sender,
    SmtpTarget,
    build_message,
    deliver,
    rcpt_path,
)
from tests.unit.mail.support import SmtpSink, free_port

SENDER = Sender(
    "library@example.org", {"ja": "横浜市立みなと図書館", "en": "Yokohama Minato Library"}
)
SENT_AT = datetime(2026, 11, 30, 1, 2, 3, tzinfo=UTC)


class _WireSmtp(SMTP):
    """aiosmtpd's server, keeping each RCPT argument as it came over the wire (the parsed
    address it hands the handler has lost its quotes)."""

    wire: list[str]

    async def smtp_RCPT(self, arg: str | None) -> None:  # noqa: N802  # aiosmtpd's name
        self.wire.append(arg or "")
        await super().smtp_RCPT(arg)


class _WireController(Controller):
    def __init__(self, sink: SmtpSink, wire: list[str], **kwargs: Any) -> None:
        super().__init__(sink, hostname="127.0.0.1", port=sink.port, **kwargs)
        self.wire = wire

    def factory(self) -> SMTP:
        server = _WireSmtp(self.handler, **self.SMTP_kwargs)
        server.wire = self.wire
        return server


@pytest.fixture(params=[False, True], ids=["plain", "smtputf8"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[SmtpSink, list[str]]]:
    """A real SMTP server with or without SMTPUTF8, and the RCPT arguments it got."""
    smtputf8: bool = request.param
    sink, wire = SmtpSink(free_port(), smtputf8=smtputf8), []
    controller = _WireController(sink, wire, enable_SMTPUTF8=smtputf8)
    controller.start()
    yield sink, wire
    controller.stop()


def _message(typed: str) -> Any:
    address = normalise_address(typed)
    envelope = Envelope(address, "ja", "登録のご案内", "本文", "<p>本文</p>", "<1@example.org>")
    return build_message(envelope, SENDER, date=SENT_AT)


def _target(sink: SmtpSink) -> SmtpTarget:
    return SmtpTarget("127.0.0.1", sink.port, start_tls=False, timeout=5)


def _to_header(sink: SmtpSink) -> bytes:
    (envelope,) = sink.envelopes
    raw: bytes = envelope.original_content or b""
    return raw.split(b"\r\nTo: ", 1)[1].split(b"\r\n", 1)[0]


@pytest.mark.parametrize(
    ("typed", "rcpt"),
    [
        # The domain in IDNA: no SMTPUTF8 needed, no RFC 2047 encoded word in the header.
        ("hanako@例え.jp", "hanako@xn--r8jz45g.jp"),
        ("hanako@example.jp\u200b", "hanako@example.jp"),
        # The carriers' legacy local parts, quoted in RCPT TO as RFC 5321 requires.
        ("taro..yamada@docomo.ne.jp", '"taro..yamada"@docomo.ne.jp'),
        ('"taro..yamada"@docomo.ne.jp', '"taro..yamada"@docomo.ne.jp'),
        (".taro@ezweb.ne.jp", '".taro"@ezweb.ne.jp'),
        ("taro.@docomo.ne.jp", '"taro."@docomo.ne.jp'),
    ],
)
async def test_ascii_addresses_go_to_any_server(
    server: tuple[SmtpSink, list[str]], typed: str, rcpt: str
) -> None:
    sink, wire = server
    await deliver(_target(sink), _message(typed))
    assert wire == [f"TO:<{rcpt}>"]
    assert _to_header(sink) == rcpt.encode()
    (message,) = sink.messages()
    assert message["To"].addresses[0].domain == rcpt.rpartition("@")[2]


def test_rcpt_path_quotes_only_what_is_not_a_dot_string() -> None:
    assert rcpt_path(Address(username="hana.ko", domain="example.jp")) == "hana.ko@example.jp"
    assert rcpt_path(Address(username="taro..yamada", domain="docomo.ne.jp")) == (
        '"taro..yamada"@docomo.ne.jp'
    )
    assert rcpt_path(Address(username="花子", domain="example.jp")) == "花子@example.jp"


async def test_a_non_ascii_local_part_fails_for_good_without_smtputf8() -> None:
    sink, wire = SmtpSink(free_port(), smtputf8=False), []
    controller = _WireController(sink, wire, enable_SMTPUTF8=False)
    controller.start()
    try:
        with pytest.raises(RecipientNeedsSmtpUtf8) as caught:
            await deliver(_target(sink), _message("花子@例え.jp"))
    finally:
        controller.stop()
    assert is_permanent(caught.value)  # the relay does not retry it for an hour
    assert "SMTPUTF8" in str(caught.value)
    assert "花子@xn--r8jz45g.jp" in str(caught.value)
    assert (sink.envelopes, wire) == ([], [])


async def test_a_non_ascii_local_part_goes_as_utf8_over_smtputf8() -> None:
    sink, wire = SmtpSink(free_port(), smtputf8=True), []
    controller = _WireController(sink, wire, enable_SMTPUTF8=True)
    controller.start()
    try:
        await deliver(_target(sink), _message("花子@例え.jp"))
    finally:
        controller.stop()
    assert wire == ["TO:<花子@xn--r8jz45g.jp>"]
    (envelope,) = sink.envelopes
    assert "SMTPUTF8" in [option.upper() for option in envelope.mail_options]
    assert _to_header(sink) == "花子@xn--r8jz45g.jp".encode()  # RFC 6532, no encoded word
