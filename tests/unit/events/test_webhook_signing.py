"""Our Standard Webhooks signatures verify with the ``standardwebhooks`` package, an
implementation independent of ours; a changed byte, id or timestamp does not. Endpoint
addresses are http(s) URLs with a host, or a clear error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from cardservice.events import messages, signing
from cardservice.events.service import WebhookUrlInvalid, checked_url


def test_a_signed_message_verifies_with_the_reference_library() -> None:
    secret = signing.new_secret()
    whsec = signing.format_secret(secret)
    assert whsec.startswith("whsec_")
    body = messages.encode("card.renewed", datetime.now(UTC), {"user_number": "2000000014"})
    message_id = signing.new_message_id()
    assert message_id.startswith("msg_")
    assert "." not in message_id
    headers = signing.signed_headers(secret, message_id, body.encode(), datetime.now(UTC))
    assert headers["webhook-signature"].startswith("v1,")
    payload = Webhook(whsec).verify(body.encode(), headers)
    assert payload["type"] == "card.renewed"
    assert payload["data"] == {"user_number": "2000000014"}


def test_a_changed_body_id_timestamp_or_secret_does_not_verify() -> None:
    secret = signing.new_secret()
    whsec = signing.format_secret(secret)
    now = datetime.now(UTC)
    body = messages.encode("card.revoked", now, {"user_number": "2000000014"}).encode()
    headers = signing.signed_headers(secret, "msg_abc", body, now)
    with pytest.raises(WebhookVerificationError):
        Webhook(whsec).verify(body.replace(b"14", b"22"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(whsec).verify(body, {**headers, "webhook-id": "msg_abd"})
    later = str(int((now + timedelta(seconds=1)).timestamp()))
    with pytest.raises(WebhookVerificationError):
        Webhook(whsec).verify(body, {**headers, "webhook-timestamp": later})
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.format_secret(signing.new_secret())).verify(body, headers)
    # The attempt's timestamp is checked against the receiver's clock (replays).
    stale = signing.signed_headers(secret, "msg_abc", body, now - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(whsec).verify(body, stale)


def test_japanese_is_sent_as_utf8_and_signed_as_sent() -> None:
    secret = signing.new_secret()
    now = datetime.now(UTC)
    body = messages.encode("patron.registered", now, {"family_name": "山田"}).encode()
    assert "山田".encode() in body
    headers = signing.signed_headers(secret, "msg_x", body, now)
    assert Webhook(signing.format_secret(secret)).verify(body, headers)["data"] == {
        "family_name": "山田"
    }


@pytest.mark.parametrize(
    "url",
    [
        "ftp://ils.example.org/hooks",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http://",
        "https://user:pw@ils.example.org/hooks",
        "ils.example.org/hooks",
        "https://ils.example.org/a b",
        "https://ils.example.org:0/hooks",
        "https://ils.example.org:99999/hooks",
        "",
        "https://example.org/" + "a" * 500,
        # hosts and characters the sender's HTTP client cannot send to (every delivery
        # would fail before a request was made)
        "http://xn--/hooks",
        "http://\uff21\uff22.jp/hooks",  # full-width letters
        "http://e\u0301x\u200b.example/hooks",  # a zero-width space in the host
        "https://ils.example.org/\x00hooks",
    ],
)
def test_an_endpoint_that_is_not_http_is_refused(url: str) -> None:
    with pytest.raises(WebhookUrlInvalid) as refused:
        checked_url(url)
    assert refused.value.code == "webhook_url_invalid"
    assert refused.value.detail == {"field": "url"}


def test_http_and_https_endpoints_are_accepted() -> None:
    assert checked_url(" https://ils.example.org/hooks ") == "https://ils.example.org/hooks"
    assert checked_url("http://10.0.0.5:8080/in") == "http://10.0.0.5:8080/in"
    assert checked_url("https://例え.jp/hooks") == "https://例え.jp/hooks"  # IDNA, sent as xn--


def test_two_signatures_during_an_overlap_each_verify_with_the_reference_library() -> None:
    new, old, other = signing.new_secret(), signing.new_secret(), signing.new_secret()
    body = messages.encode("webhook.test", datetime.now(UTC), {"test": True}).encode()
    headers = signing.signed_headers(new, "msg_abc", body, datetime.now(UTC), old)
    first, second = headers["webhook-signature"].split(" ")
    assert first == signing.sign(new, "msg_abc", int(headers["webhook-timestamp"]), body)
    assert second == signing.sign(old, "msg_abc", int(headers["webhook-timestamp"]), body)
    for secret in (new, old):
        assert Webhook(signing.format_secret(secret)).verify(body, headers)["type"] == (
            "webhook.test"
        )
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.format_secret(other)).verify(body, headers)
