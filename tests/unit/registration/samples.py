"""A valid application, as a browser posts it, for the registration tests to vary."""

from __future__ import annotations

from datetime import date

TODAY = date(2026, 4, 4)  # a Saturday

# From a Yokohama resident.
VALID_RAW: dict[str, str] = {
    "procedure": "new",
    "family_name": "山田",
    "given_name": "花子",
    "family_kana": "ヤマダ",
    "given_kana": "ハナコ",
    "birth_date": "1990-04-01",
    "postal_code": "231-0005",
    "prefecture": "神奈川県",
    "city": "横浜市中区",
    "street": "本町1-1",
    "building": "",
    "phone": "045-262-7334",
    "basis": "lives",
    "workplace_or_school": "",
    "password": "pass-word1",
}
