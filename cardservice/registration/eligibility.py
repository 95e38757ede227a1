"""Who may register online: decided from the postal code, not from what was typed.

The municipality comes from Japan Post's data for the postal code; the typed prefecture and
city must agree with it, so a typo cannot make someone eligible (or ineligible). A profile
names municipalities as Japan Post does, and a designated city matches all its wards:
横浜市 matches 横浜市中区.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from cardservice.profiles.schema import DESIGNATED_CITY_WARD, Profile
from cardservice.registration import Messages
from cardservice.registration.form import ApplicationForm, Basis
from cardservice.registration.japan import (
    PREFECTURES,
    PREFECTURES_EN,
    Address,
    format_postal_code,
    lookup_postal_code_all,
)

_WARD = DESIGNATED_CITY_WARD
_COUNTY = re.compile(r"^.+?郡")

MESSAGES: Messages = {
    "resident": {
        "ja": "{municipality}にお住まいのかたは、オンラインで申請できます。",
        "en": "You live in {municipality}, so you may apply online.",
    },
    "works": {
        "ja": "{city}に在勤のかたとして申請できます。",
        "en": "You may apply as someone who works in {city}.",
    },
    "studies": {
        "ja": "{city}に在学のかたとして申請できます。",
        "en": "You may apply as someone who studies in {city}.",
    },
    "extra_document": {
        "ja": "本人確認書類に加えて、勤務先・学校を確認できる書類"
        "（社員証・学生証・生徒手帳など）も添付してください。",
        "en": "Besides your identity document, attach one that shows your workplace or school "
        "(employee ID, student ID, student handbook).",
    },
    "counter_adjacent_city": {
        "ja": "{municipality}にお住まいのかたは広域利用の対象のため、オンラインでは申請できません。"
        "{library}の窓口で申請してください。",
        "en": "Residents of {municipality} use the library under the wide-area arrangement, "
        "which cannot be applied for online. Please apply at a counter of {library}.",
    },
    "not_resident": {
        "ja": "お住まいの{municipality}は、オンライン登録の対象地域ではありません。"
        "{library}の窓口でご相談ください。",
        "en": "Your address ({place}) is outside the area for online registration. "
        "Please ask at a counter of {library}.",
    },
    "postal_code_unknown": {
        "ja": "郵便番号 {postal_code} が見つかりません。郵便番号を確認してください。"
        "正しい場合は{library}の窓口で申請してください。",
        "en": "The postal code {postal_code} was not found. Please check it; if it is right, "
        "apply at a counter of {library}.",
    },
    "prefecture_mismatch": {
        "ja": "都道府県が郵便番号 {postal_code}（{expected}）と一致しません。",
        "en": "The prefecture does not match the postal code {postal_code}, "
        "which is in {expected}.",
    },
    "address_mismatch": {
        "ja": "市区町村が郵便番号 {postal_code}（{expected}）と一致しません。",
        "en": "The city does not match the postal code {postal_code}, which is in {expected}. "
        "Japan Post writes the city as {official}.",
    },
    # Added to the two "not in the area" answers when the library also takes work or study.
    "other_bases_hint": {
        "ja": "{city}に在勤・在学のかたは、申請の理由で「在勤」または「在学」を選んでください。",
        "en": "If you work or study in {city}, choose that as your reason for applying.",
    },
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Eligibility:
    eligible: bool
    reason: str  # a key of MESSAGES
    ja: str
    en: str
    needs_extra_document: bool = False
    # Japan Post's municipality for the postal code ("横浜市中区"); "" when the code is unknown.
    municipality: str = ""
    # The form field to correct, when the applicant can fix this by editing their answers.
    field: str | None = None


def check_eligibility(form: ApplicationForm, profile: Profile) -> Eligibility:
    answer = _Answer(profile, form.postal_code)
    candidates = lookup_postal_code_all(form.postal_code)
    if not candidates:
        return answer.no("postal_code_unknown", field="postal_code")
    address = _consistent_address(candidates, form)
    if isinstance(address, str):
        field = "prefecture" if address == "prefecture_mismatch" else "city"
        return answer.no(address, field=field, place=candidates[0])
    if form.basis is not Basis.LIVES:
        return answer.yes(
            form.basis.value, address, extra=profile.documents.extra_for_work_or_study
        )
    return _by_residence(answer, address, profile)


def _by_residence(answer: _Answer, address: Address, profile: Profile) -> Eligibility:
    library = profile.library
    if address.prefecture == library.prefecture and _matches(
        address.city, library.resident_municipalities
    ):
        return answer.yes("resident", address)
    # Wide-area neighbours may lie in another prefecture (町田市 for Yokohama).
    if _matches(address.city, library.counter_municipalities):
        return answer.no("counter_adjacent_city", place=address, hint=True)
    return answer.no("not_resident", place=address, hint=True)


def _matches(city: str, municipalities: Iterable[str]) -> bool:
    """Whether one of the profile's names covers Japan Post's ``city`` (or its ward's city)."""
    ward = _WARD.fullmatch(city)
    names = set(municipalities)
    return city in names or (ward is not None and ward.group(1) in names)


def _consistent_address(candidates: tuple[Address, ...], form: ApplicationForm) -> Address | str:
    """The candidate the typed prefecture and city agree with, or the mismatch's reason."""
    in_prefecture = [a for a in candidates if a.prefecture == form.prefecture]
    if not in_prefecture:
        return "prefecture_mismatch"
    for address in in_prefecture:
        if city_consistent(form.city, address.city):
            return address
    return "address_mismatch"


def city_consistent(typed: str, official: str) -> bool:
    """Whether the typed city names Japan Post's municipality.

    Accepted: the municipality itself, followed by more of the address or not ("柏市",
    "柏市柏1丁目"); without its county ("中井町" for 足柄上郡中井町); a designated city alone
    or its ward alone ("横浜市" or "中区" for 横浜市中区). Another ward of the same city is
    not: the postal code and the typed address would disagree.
    """
    typed, official = _fold(typed), _fold(official)
    if typed.startswith(official) or typed.startswith(_COUNTY.sub("", official)):
        return True
    ward = _WARD.fullmatch(official)
    return ward is not None and (typed == ward.group(1) or typed.startswith(ward.group(2)))


def _fold(text: str) -> str:
    """Spellings that name the same place: 鎌ヶ谷市 and 鎌ケ谷市, full-width and spaces."""
    text = unicodedata.normalize("NFKC", text).replace("ヶ", "ケ").replace("ヵ", "カ")
    return "".join(text.split())


class _Answer:
    """Builds results with the library's names filled into the ja and en texts. A place is
    named in the text's language: in English by the profile's English name (Matsudo,
    Yokohama for 横浜市中区), a place the profile does not name by its postal code and
    prefecture (Hokkaido); the kanji only where the form needs them typed."""

    def __init__(self, profile: Profile, postal_code: str) -> None:
        self.profile = profile
        self.postal_code = format_postal_code(postal_code)
        self.other_bases = any(basis != "lives" for basis in profile.registration.bases)

    def yes(self, reason: str, address: Address, *, extra: bool = False) -> Eligibility:
        codes = [reason, "extra_document"] if extra else [reason]
        ja, en = self._texts(codes, address)
        return Eligibility(
            eligible=True,
            reason=reason,
            ja=ja,
            en=en,
            needs_extra_document=extra,
            municipality=address.city,
        )

    def no(
        self,
        reason: str,
        *,
        field: str | None = None,
        place: Address | None = None,
        hint: bool = False,
    ) -> Eligibility:
        codes = [reason, "other_bases_hint"] if hint and self.other_bases else [reason]
        ja, en = self._texts(codes, place)
        municipality = place.city if place is not None else ""
        return Eligibility(
            eligible=False, reason=reason, ja=ja, en=en, municipality=municipality, field=field
        )

    def _texts(self, codes: list[str], place: Address | None) -> tuple[str, str]:
        return self._text("ja", codes, place), self._text("en", codes, place)

    def _places(self, lang: str, place: Address | None) -> dict[str, str]:
        """``municipality``, ``place``, ``expected`` (with the prefecture) and ``official``
        (Japan Post's spelling, to type in the form) for the texts in ``lang``."""
        if place is None:
            return dict.fromkeys(("municipality", "place", "expected", "official"), "")
        if lang != "en":
            expected = f"{place.prefecture}{place.city}"
            return {"municipality": place.city, "place": place.city, "expected": expected}
        english = self.profile.library.english_municipality(place.city)
        prefecture = PREFECTURES_EN[PREFECTURES.index(place.prefecture)]
        return {
            "municipality": english or place.city,
            "place": english or f"postal code {self.postal_code}",
            "expected": f"{english}, {prefecture}" if english else prefecture,
            "official": place.city,
        }

    def _text(self, lang: str, codes: list[str], place: Address | None) -> str:
        library = self.profile.library
        filled = {
            **self._places(lang, place),
            "library": library.name.get(lang),
            "city": library.city.get(lang),
            "postal_code": self.postal_code,
        }
        separator = "" if lang == "ja" else " "  # Japanese sentences run on without spaces
        return separator.join(MESSAGES[code][lang].format(**filled) for code in codes)
