"""The MIME message, the SMTP URL, the backoff, addresses and link extraction."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import aiosmtplib
import pytest

from cardservice.errors import ConfigurationError
from cardservice.mail.catcher import effective_smtp_url, extract_links, uses_catcher
from cardservice.mail.errors import InvalidRecipient
from cardservice.mail.letterhead import Letterhead
from cardservice.mail.models import CaughtMail
from cardservice.mail.outbox import checked_address
from cardservice.mail.relay import BACKOFF_CAP, is_permanent, retry_delay
from cardservice.mail.render import render
from cardservice.mail.smtp import Envelope, Sender, SmtpTarget, build_message
from cardservice.profiles import load_profile
from cardservice.settings import Settings

SENDER = Sender(
    "library@example.org", {"ja": "横浜市立みなと図書館", "en": "Yokohama Minato Library"}
)
LINK = "https://cards.example.org/register/verify?t=AbC&x=1"


def _envelope(lang: str = "ja") -> Envelope:
    mail = render(
        "verify_email",
        lang,
        {
            "link": LINK,
            "expires_hours": 24,
            "library": Letterhead(name="横浜市立みなと図書館", email="x@y.jp"),
        },
    )
    return Envelope(
        "hanako@example.org", lang, mail.subject, mail.body_text, mail.body_html, "<1@example.org>"
    )


def _parsed(message: EmailMessage) -> EmailMessage:
    raw = bytes(message)
    raw.decode("ascii")  # 7-bit clean: no relay on the way needs 8BITMIME
    parsed = message_from_bytes(raw, _class=EmailMessage, policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_message_is_text_with_an_html_alternative() -> None:
    envelope = _envelope()
    sent_at = datetime(2026, 11, 24, 1, 2, 3, tzinfo=UTC)
    parsed = _parsed(build_message(envelope, SENDER, date=sent_at))
    assert parsed.get_content_type() == "multipart/alternative"
    kinds = [part.get_content_type() for part in parsed.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    assert str(parsed["Subject"]) == envelope.subject
    (author,) = parsed["From"].addresses
    assert author.addr_spec == "library@example.org"
    assert author.display_name == "横浜市立みなと図書館"
    assert parsed["Message-ID"] == "<1@example.org>"
    assert parsed["Date"].datetime == sent_at
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Content-Language"] == "ja"
    text = parsed.get_body(preferencelist=("plain",))
    assert text is not None
    assert LINK in text.get_content()


def test_english_mail_uses_the_english_library_name() -> None:
    parsed = _parsed(build_message(_envelope("en"), SENDER, date=datetime.now(UTC)))
    assert parsed["From"].addresses[0].display_name == "Yokohama Minato Library"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.org", SmtpTarget("mail.example.org", 25)),
        (
            "smtp://u%40lib:p%40ss%2Fw@mail.example.org:587?starttls=1",
            SmtpTarget("mail.example.org", 587, "u@lib", "p@ss/w", start_tls=True),
        ),
        ("smtp://127.0.0.1:8025?starttls=0", SmtpTarget("127.0.0.1", 8025, start_tls=False)),
        ("smtps://u:p@mail.example.org", SmtpTarget("mail.example.org", 465, "u", "p", True)),
        ("smtp://h.example:2525?timeout=5", SmtpTarget("h.example", 2525, timeout=5.0)),
    ],
)
def test_smtp_url(url: str, expected: SmtpTarget) -> None:
    assert SmtpTarget.from_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.example.org",
        "smtp://",
        "smtp://h:port",
        "smtp://h?starttls=maybe",
        "smtp://h?timeout=0",
    ],
)
def test_bad_smtp_url_names_the_setting(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SmtpTarget.from_url(url)
    assert caught.value.key == "CARDSERVICE_SMTP_URL"


def test_errors_for_staff_never_show_the_password() -> None:
    target = SmtpTarget.from_url("smtp://u:hunter2@h.example")
    assert target.redact("535 bad credentials for u/hunter2") == "535 bad credentials for u/***"


def test_backoff_doubles_with_jitter_up_to_an_hour() -> None:
    rng = random.Random(7)
    for attempts in range(1, 12):
        full = min(BACKOFF_CAP, timedelta(seconds=30) * 2 ** (attempts - 1))
        for _ in range(20):
            delay = retry_delay(attempts, rng)
            assert full * 0.75 <= delay <= full
    delays = {retry_delay(3, rng) for _ in range(20)}
    assert len(delays) > 1  # jittered, so relays that failed together do not retry in step


def test_refusals_of_the_mail_itself_are_permanent() -> None:
    refused = aiosmtplib.SMTPRecipientRefused(550, "no such user", "x@example.org")
    assert is_permanent(aiosmtplib.SMTPRecipientsRefused([refused]))
    assert is_permanent(aiosmtplib.SMTPDataError(554, "rejected"))
    greylisted = aiosmtplib.SMTPRecipientRefused(451, "try later", "x@example.org")
    assert not is_permanent(aiosmtplib.SMTPRecipientsRefused([greylisted]))
    assert not is_permanent(aiosmtplib.SMTPConnectError("refused"))
    assert not is_permanent(ConnectionRefusedError())
    assert not is_permanent(aiosmtplib.SMTPAuthenticationError(535, "bad login"))
    assert is_permanent(ValueError("cannot build"))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("hanako@example.org", "hanako@example.org"),
        (" a.b+c@mail.example.jp ", "a.b+c@mail.example.jp"),
    ],
)
def test_addresses(given: str, expected: str) -> None:
    assert checked_address(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        "hanako",
        "a@b@c.jp",
        "a@localhost",
        "a@b.jp, c@d.jp",
        "a@b.jp\r\nBcc: x@evil.example",
        "<a@b.jp>",
        "",
    ],
)
def test_bad_addresses_are_refused(given: str) -> None:
    with pytest.raises(InvalidRecipient) as caught:
        checked_address(given)
    assert caught.value.code == "mail_invalid_recipient"


def test_links_from_html_and_text_once_each() -> None:
    # Japanese text often runs straight on after a link, with no space.
    text = f"\u3053\u3061\u3089\uff1a{LINK}\u3002\uff08https://x.example/a)\nmailto:x@y.jp"
    html = f'<a href="{LINK.replace("&", "&amp;")}">go</a> <a href="mailto:x@y.jp">m</a>'
    mail = CaughtMail(body_text=text, body_html=html)
    assert extract_links(mail) == [LINK, "https://x.example/a"]


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings.from_env(
        {}, data_dir=tmp_path, profile=load_profile("example"), mail_catcher_port=2526, **values
    )


def test_dev_without_smtp_uses_the_catcher(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert uses_catcher(settings)
    assert effective_smtp_url(settings) == "smtp://127.0.0.1:2526"
    configured = _settings(tmp_path, smtp_url="smtp://mail.example.org:587")
    assert not uses_catcher(configured)
    assert effective_smtp_url(configured) == "smtp://mail.example.org:587"
    production = _settings(
        tmp_path, mode="production", base_url="https://c.example.org", smtp_url="smtps://m.example"
    )
    assert not uses_catcher(production)
    assert effective_smtp_url(production) == "smtps://m.example"
