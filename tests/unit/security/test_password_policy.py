"""Password policies: Yokohama's composition rule and NIST SP 800-63B, every rejection code."""

from __future__ import annotations

import pytest

from cardservice.errors import ConfigurationError
from cardservice.profiles import load_profile
from cardservice.profiles.schema import PasswordSection
from cardservice.security.passwords import (
    MESSAGES,
    PasswordRejected,
    blocklist,
    check_password,
    message,
)

YOKOHAMA = load_profile("yokohama").password
NIST = PasswordSection(policy="nist", min_length=8, max_length=64)
EMAIL = "hanako.yamada@example.org"


def rejection(policy: PasswordSection, password: str, email: str | None = EMAIL) -> str:
    with pytest.raises(PasswordRejected) as caught:
        check_password(policy, password, email=email)
    assert caught.value.detail["field"] == "password"
    return caught.value.code


def test_yokohama_profile_is_composition_8_to_15() -> None:
    assert (YOKOHAMA.policy, YOKOHAMA.min_length, YOKOHAMA.max_length) == ("composition", 8, 15)


@pytest.mark.parametrize(
    "password",
    ["abc-1234", "Library@2025", "a1/b2.c3+d4*", "x9_#!?%-", "ａｂｃ－１２３４"],
)
def test_composition_accepts(password: str) -> None:
    check_password(YOKOHAMA, password, email=EMAIL)


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("abc12345", "password_needs_symbol"),
        ("ab-12", "password_too_short"),
        ("abcdefgh-1234567", "password_too_long"),  # 16 characters, one over Yokohama's 15
        ("12345678-", "password_needs_letter"),
        ("abcdefgh-", "password_needs_digit"),
        ("abc 1234-", "password_bad_character"),  # a space is not in the symbol set
        ("abc=1234", "password_bad_character"),  # nor is =
        ("パスワード12-a", "password_bad_character"),  # letters are ASCII letters only
        ("hanako.yamada-1", "password_contains_email"),
    ],
)
def test_composition_rejects(password: str, code: str) -> None:
    assert rejection(YOKOHAMA, password) == code


def test_too_long_is_checked_at_exactly_max_plus_one() -> None:
    check_password(YOKOHAMA, "abcdefg-1234567", email=None)  # 15
    assert rejection(YOKOHAMA, "abcdefg-12345678", None) == "password_too_long"  # 16


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",  # spaces are fine
        "とても長い日本語のパスワードです",  # any printable Unicode
        "short ok",  # exactly 8, no composition rules
        "x" * 64,
    ],
)
def test_nist_accepts(password: str) -> None:
    check_password(NIST, password, email=EMAIL)


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("seven77", "password_too_short"),
        ("x" * 65, "password_too_long"),
        ("password", "password_common"),
        ("PassWord", "password_common"),  # compared lower-cased
        ("ＰＡＳＳＷＯＲＤ", "password_common"),  # and after NFKC
        ("iloveyou", "password_common"),
        ("qwertyuiop", "password_common"),
        ("12345678", "password_common"),
        ("sakura123", "password_common"),  # Japanese-typical additions
        ("あいうえおかきくけこ", "password_common"),
        ("tab\there in it", "password_bad_character"),
        ("bell\x07 character", "password_bad_character"),
        (EMAIL, "password_contains_email"),
        ("HANAKO.YAMADA is me", "password_contains_email"),
    ],
)
def test_nist_rejects(password: str, code: str) -> None:
    assert rejection(NIST, password) == code


def test_a_short_local_part_does_not_refuse_everything() -> None:
    check_password(NIST, "amazing pancake", email="am@example.org")
    assert rejection(NIST, "am@example.org", "am@example.org") == "password_contains_email"


def test_ideographic_space_counts_as_a_space() -> None:
    check_password(NIST, "correct\u3000horse\u3000battery", email=None)


def test_blocklist_is_shipped_and_large() -> None:
    words = blocklist()
    assert len(words) >= 10_000
    assert {"password", "iloveyou", "qwertyuiop", "doraemon"} <= words
    assert all(w == w.lower() for w in words)


def test_nist_profile_below_nist_is_a_configuration_error() -> None:
    weak = PasswordSection(policy="nist", min_length=8, max_length=32)
    with pytest.raises(ConfigurationError, match=r"password\.max_length"):
        check_password(weak, "long enough phrase", email=None)


def test_every_code_has_japanese_and_english() -> None:
    codes = {
        "password_too_short",
        "password_too_long",
        "password_needs_letter",
        "password_needs_digit",
        "password_needs_symbol",
        "password_bad_character",
        "password_common",
        "password_contains_email",
    }
    assert set(MESSAGES) == codes
    for code in codes:
        ja, en = message(code, "ja", YOKOHAMA), message(code, "en", YOKOHAMA)
        assert ja
        assert en != ja
        assert "{" not in ja + en
    assert "15" in message("password_too_long", "ja", YOKOHAMA)
    assert "-/@.+*_#!?%" in message("password_needs_symbol", "en", YOKOHAMA)


def test_a_refused_character_under_a_composition_policy_names_what_is_allowed() -> None:
    ja = message("password_bad_character", "ja", YOKOHAMA)
    assert ja == (
        "パスワードに使えない文字が含まれています。"
        "使えるのは英字・数字と記号「-/@.+*_#!?%」だけで、空白や全角文字は使えません。"
    )
    en = message("password_bad_character", "en", YOKOHAMA)
    assert "-/@.+*_#!?% (no spaces" in en
    nist = PasswordSection(policy="nist", min_length=8, max_length=64)
    plain = message("password_bad_character", "ja", nist)
    assert plain == "パスワードに使えない文字が含まれています。"


def test_rejection_carries_the_english_message_and_bound() -> None:
    with pytest.raises(PasswordRejected) as caught:
        check_password(YOKOHAMA, "a-1", email=None)
    assert caught.value.message == "The password must be at least 8 characters long."
    assert caught.value.as_dict()["min_length"] == 8
