"""A card verdict in SIP2's words: the patron status flags, valid patron (BL), the name (AE)
and the screen message (AF), for Patron Status (24) and Patron Information (64).

The verdicts are the verify API's (``cards/verification.py``), mapped so that a kiosk that
reads only the flags refuses what the API refuses:

============  ======================================  ====  =====================
verdict       patron status (14 flags, guide 2.00)    BL    AE (name)
============  ======================================  ====  =====================
valid         all blank                                Y     the holder's
expired       charge, renewal, recall, hold denied     Y     the holder's
suspended     the same; "card reported lost" when      Y     the holder's
              it was reported lost
revoked       the same; "card reported lost" when it   N     none
              was lost
unknown       charge, renewal, recall, hold denied     N     none
invalid       the same                                 N     none
============  ======================================  ====  =====================

AF says the verdict and its reason in words (``cards/counter_texts.py``), in Japanese or
English by the request's language code (001 English, anything else Japanese), with the
expiry date when the card is ours.

CQ (valid patron password, Y or N) follows BL when the request carried AD, the patron's
password (``sip2/patron_password.py`` says when it is Y); without AD there is no CQ. When
the password was not even checked because of too many wrong ones, AF also says to wait.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from cardservice.calendar import written_date
from cardservice.cards.counter import CounterScan
from cardservice.cards.counter_texts import title_of, words_of
from cardservice.cards.verification import Status
from cardservice.i18n import N_, Lang, gettext
from cardservice.sip2.codec import clean, sip_date, yes_no
from cardservice.sip2.patron_password import PatronPassword

ENGLISH: Final = "001"  # the guide's language codes: 001 English, 014 Japanese
JAPANESE: Final = "014"
_DENIED: Final = "YYYY"  # charge, renewal, recall and hold privileges denied
_LOST_FLAG: Final = 4
_LOST_REASONS: Final = frozenset({"lost", "reported_lost"})
_NAMED: Final = frozenset({Status.VALID, Status.EXPIRED, Status.SUSPENDED})
EXPIRES_ON: Final = N_("Expires on %(date)s.")
# Patron login's own words (``pages/card/login.html``), for a kiosk over the same limits.
TOO_MANY_PASSWORDS: Final = N_("Too many login attempts. Please wait a while and try again.")


def language_of(code: str) -> Lang:
    """The language of the screen messages for a request's three-digit language code."""
    return "en" if code == ENGLISH else "ja"


def patron_status(found: CounterScan) -> str:
    """The 14 patron status flags (Y or blank) for the verdict (module table)."""
    verdict = found.verdict
    if verdict.status is Status.VALID:
        return " " * 14
    flags = list(_DENIED + " " * 10)
    if verdict.status in {Status.REVOKED, Status.SUSPENDED} and verdict.reason in _LOST_REASONS:
        flags[_LOST_FLAG] = "Y"
    return "".join(flags)


def screen_message(found: CounterScan, lang: Lang, password: PatronPassword | None = None) -> str:
    """AF: the verdict, its reason and the expiry, in ``lang``; and, when the password was
    refused over the login limits, that the patron should wait."""
    verdict = found.verdict
    parts = [gettext(lang, title_of(verdict)), gettext(lang, words_of(verdict))]
    if verdict.expires_on is not None and verdict.status in _NAMED:
        day = written_date(verdict.expires_on, lang)
        parts.append(gettext(lang, EXPIRES_ON) % {"date": day})
    if password is PatronPassword.LIMITED:
        if lang == "ja" and not parts[-1].endswith("。"):  # 有効期限：…日 ends no sentence
            parts[-1] += "。"
        parts.append(gettext(lang, TOO_MANY_PASSWORDS))
    separator = "" if lang == "ja" else " "
    head = parts[0] + ("：" if lang == "ja" else ": ")
    return clean(head + separator.join(parts[1:]))


def patron_fields(
    found: CounterScan,
    institution: str,
    patron: str,
    lang: Lang,
    password: PatronPassword | None = None,
) -> str:
    """The variable fields both answers share: AO, AA, AE, BL, CQ (only when ``password``
    was checked) and AF, each ending in ``|``."""
    named = found.verdict.status in _NAMED
    name = found.holder if named and found.holder else ""
    valid_password = "" if password is None else f"CQ{yes_no(password is PatronPassword.VALID)}|"
    return (
        f"AO{clean(institution)}|AA{clean(patron)}|AE{clean(name)}|"
        f"BL{yes_no(named)}|{valid_password}AF{screen_message(found, lang, password)}|"
    )


def patron_status_response(
    found: CounterScan,
    *,
    language: str,
    institution: str,
    patron: str,
    now: datetime,
    password: PatronPassword | None = None,
) -> str:
    """24, Patron Status Response (without AY/AZ); ``password``: the outcome of checking the
    request's AD, None when it sent none."""
    return (
        f"24{patron_status(found)}{language}{sip_date(now)}"
        f"{patron_fields(found, institution, patron, language_of(language), password)}"
    )


def patron_information_response(
    found: CounterScan,
    *,
    language: str,
    institution: str,
    patron: str,
    now: datetime,
    password: PatronPassword | None = None,
) -> str:
    """64, Patron Information Response (without AY/AZ): no items are ever counted or listed
    (the card service keeps no loans: the library system does), so the six counts are 0."""
    return (
        f"64{patron_status(found)}{language}{sip_date(now)}{'0000' * 6}"
        f"{patron_fields(found, institution, patron, language_of(language), password)}"
    )
