"""The verify verdicts in SIP2's words (``sip2/answers.py``): patron status flags, BL, AE and
AF for every status, in Japanese and English, without a database."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from cardservice.cards.counter import CounterScan
from cardservice.cards.verification import Status, Verdict
from cardservice.sip2.answers import (
    language_of,
    patron_information_response,
    patron_status,
    patron_status_response,
)
from cardservice.sip2.patron_password import PatronPassword

NOW = datetime(2026, 11, 30, 10, 15)
ENDS = date(2029, 11, 30)
DENIED = "YYYY" + " " * 10
LOST = "YYYYY" + " " * 9


@pytest.mark.parametrize(
    ("verdict", "flags"),
    [
        (Verdict(Status.VALID, None, "2000000014", ENDS), " " * 14),
        (Verdict(Status.EXPIRED, "card_expired", "2000000014", ENDS), DENIED),
        (Verdict(Status.SUSPENDED, "staff", "2000000014", ENDS), DENIED),
        (Verdict(Status.SUSPENDED, "reported_lost", "2000000014", ENDS), LOST),
        (Verdict(Status.REVOKED, "reissued", "2000000014", ENDS), DENIED),
        (Verdict(Status.REVOKED, "lost", "2000000014", ENDS), LOST),
        (Verdict(Status.REVOKED, "token_revoked", "2000000014", ENDS), DENIED),
        (Verdict(Status.UNKNOWN, "card_not_found", "2000000014"), DENIED),
        (Verdict(Status.INVALID, "number_bad_check_digit"), DENIED),
    ],
)
def test_patron_status_flags(verdict: Verdict, flags: str) -> None:
    assert patron_status(CounterScan(verdict, "山田 花子")) == flags


def test_languages() -> None:
    assert language_of("001") == "en"
    assert {language_of(code) for code in ("000", "014", "999", "abc")} == {"ja"}


def test_a_valid_answer_in_both_languages() -> None:
    found = CounterScan(Verdict(Status.VALID, None, "2000000014", ENDS), "山田 花子")
    answer = patron_status_response(
        found, language="014", institution="minato", patron="A2000000014A", now=NOW
    )
    assert answer == (
        "24" + " " * 14 + "014" + "20261130    101500"
        "AOminato|AAA2000000014A|AE山田 花子|BLY|"
        "AF有効：このカードは利用できます。有効期限：2029年11月30日|"
    )
    english = patron_information_response(
        found, language="001", institution="minato", patron="2000000014", now=NOW
    )
    assert english.startswith("64" + " " * 14 + "001" + "20261130    101500" + "0" * 24)
    assert english.endswith("|AFValid: The card may be used. Expires on 30 November 2029.|")


def test_a_revoked_card_names_nobody_and_fields_stay_fields() -> None:
    found = CounterScan(Verdict(Status.REVOKED, "lost", "2000000014", ENDS), "山田 花子")
    answer = patron_status_response(
        found, language="001", institution="a|b", patron="x|AEforged\r", now=NOW
    )
    assert "|AE|BLN|" in answer
    assert "AOab|AAxAEforged|" in answer
    assert "\r" not in answer
    assert answer.endswith("|AFRevoked: The card was reported lost and has been revoked.|")


def test_cq_only_when_a_password_was_checked_and_the_limit_in_words() -> None:
    found = CounterScan(Verdict(Status.VALID, None, "2000000014", ENDS), "山田 花子")
    kwargs = {"institution": "minato", "patron": "2000000014", "now": NOW}
    assert "CQ" not in patron_status_response(found, language="001", **kwargs)
    right = patron_status_response(found, language="001", password=PatronPassword.VALID, **kwargs)
    assert "|BLY|CQY|AFValid: The card may be used. Expires on 30 November 2029.|" in right
    wrong = patron_information_response(
        found, language="001", password=PatronPassword.WRONG, **kwargs
    )
    assert wrong.endswith("|BLY|CQN|AFValid: The card may be used. Expires on 30 November 2029.|")
    limited = patron_status_response(
        found, language="014", password=PatronPassword.LIMITED, **kwargs
    )
    assert limited.endswith(
        "|BLY|CQN|AF有効：このカードは利用できます。有効期限：2029年11月30日。"
        "ログインの試行回数が多すぎます。しばらく時間をおいてから、もう一度お試しください。|"
    )
    english = patron_status_response(
        found, language="001", password=PatronPassword.LIMITED, **kwargs
    )
    assert english.endswith(
        "November 2029. Too many login attempts. Please wait a while and try again.|"
    )
