"""Email addresses as people type them: one stored, sendable form, or a stable error."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardservice.mail.addresses import _normalised, needs_smtputf8, normalise_address
from cardservice.mail.errors import InvalidRecipient
from cardservice.mail.outbox import checked_address


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        # The domain in IDNA, for storage and the wire; nothing in the message needs SMTPUTF8.
        ("hanako@例え.jp", "hanako@xn--r8jz45g.jp"),
        ("hanako@例え.ＪＰ", "hanako@xn--r8jz45g.jp"),
        ("hanako@xn--r8jz45g.jp", "hanako@xn--r8jz45g.jp"),
        # Invisible characters after, before or inside the address.
        ("hanako@example.jp\u200b", "hanako@example.jp"),
        ("hanako@example.jp\u200e", "hanako@example.jp"),
        ("\ufeffhanako@example.jp", "hanako@example.jp"),
        ("hana\u200dko@exam\u200fple.jp", "hanako@example.jp"),
        (" hanako@example.jp\u3000", "hanako@example.jp"),
        # Full-width ASCII from an IME, the ideographic full stop, capitals.
        ("ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ", "hanako@example.jp"),
        ("hanako@example。jp", "hanako@example.jp"),
        ("Hanako.Yamada@EXAMPLE.JP", "hanako.yamada@example.jp"),
        # The carriers' legacy local parts, typed with or without quotes: one quoted form.
        ('"taro..yamada"@docomo.ne.jp', '"taro..yamada"@docomo.ne.jp'),
        ("taro..yamada@docomo.ne.jp", '"taro..yamada"@docomo.ne.jp'),
        (".taro@ezweb.ne.jp", '".taro"@ezweb.ne.jp'),
        ("taro.@docomo.ne.jp", '"taro."@docomo.ne.jp'),
        ("ｔａｒｏ．．ｙａｍａｄａ＠ｄｏｃｏｍｏ．ｎｅ．ｊｐ", '"taro..yamada"@docomo.ne.jp'),
        # Quotes a plain local part does not need are dropped.
        ('"hanako"@example.jp', "hanako@example.jp"),
        # A non-ASCII local part is kept as typed, full-width digits included (no NFKC).
        ("花子@example.jp", "花子@example.jp"),
        ("花子２@例え.jp", "花子2@xn--r8jz45g.jp"),
        ("はなこ１ｶﾅ@example.jp", "はなこ1ｶﾅ@example.jp"),
    ],
)
def test_typed_addresses_have_one_stored_form(typed: str, stored: str) -> None:
    assert normalise_address(typed) == stored
    assert normalise_address(stored) == stored  # idempotent: stored addresses stay as they are
    assert checked_address(typed) == stored  # the outbox uses the same rule


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "\u200b",
        "hanako",
        "hanako@",
        "@example.jp",
        "a@b@example.jp",
        "a@localhost",
        "hanako@example",
        '"taro yamada"@example.jp',  # quoting for anything but misplaced dots is refused
        '"a@b"@example.jp',
        '"a\\"b"@example.jp',
        '""@example.jp',
        "..@docomo.ne.jp",
        "hana ko@example.jp",
        "<hanako@example.jp>",
        "Hanako <hanako@example.jp>",
        "a@b.jp, c@d.jp",
        "a@b.jp\r\nBcc: x@evil.example",
        "hanako@[192.0.2.1]",
        "hanako@-example.jp",
        "x" * 65 + "@example.jp",
        "hanako@" + "a" * 250 + ".jp",
        "hanako@example.jp" * 100,
    ],
)
def test_what_is_no_address_gets_the_stable_code(typed: str) -> None:
    with pytest.raises(InvalidRecipient) as caught:
        normalise_address(typed, field="email")
    assert caught.value.code == "mail_invalid_recipient"
    assert caught.value.as_dict()["field"] == "email"


def test_only_a_non_ascii_local_part_needs_smtputf8() -> None:
    assert needs_smtputf8(normalise_address("花子@example.jp"))
    assert not needs_smtputf8(normalise_address("hanako@例え.jp"))
    assert not needs_smtputf8(normalise_address("taro..yamada@docomo.ne.jp"))


@settings(max_examples=300, deadline=None)
@given(st.emails() | st.text(alphabet="aZ09._+-@\"' \u200bｈ＠例", max_size=40))
def test_the_shortcut_for_plain_addresses_answers_as_the_full_rule(typed: str) -> None:
    def answer(rule: Callable[[str], str]) -> str:
        try:
            return rule(typed)
        except InvalidRecipient as refused:
            return refused.code

    assert answer(normalise_address) == answer(lambda raw: _normalised(raw, "email"))
