"""One word for applying in Japanese: 申請, as Kashiwa's published procedure says it
(スマート登録申請, 申請が可能なかた, 申請するときの注意点), for the patron's act and on the
staff side alike (申請番号, 申請の審査待ち一覧, 申請者). お申し込み and 申込 once stood beside
it on the same pages and emails, so a patron read two names for one thing.

Read here: the Japanese catalog, the Japanese email templates, every string in the Python
package (the domain's ja/en message tables) and the profiles. Not the migrations: each
keeps the texts of its day, and 0013 rewords the rejection reasons that 0004 seeded
(tests/integration/test_rejection_wording_migration.py).
"""

from __future__ import annotations

import ast
import re
from datetime import date
from pathlib import Path

from babel.messages.pofile import read_po

from cardservice.mail.letterhead import letterhead
from cardservice.mail.render import render
from cardservice.profiles import load_profile

PACKAGE = Path(__file__).resolve().parents[2] / "cardservice"
OTHER_WORDING = re.compile(r"申し込|申込|お申込")


def _catalog_strings() -> list[tuple[str, str]]:
    path = PACKAGE / "locale" / "ja" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale="ja")
    found = []
    for message in catalog:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        found += [(str(message.id), text) for text in strings if text]
    return found


def _python_strings() -> list[tuple[str, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [
            (f"{path.relative_to(PACKAGE)}:{node.lineno}", node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        ]
    return found


def test_the_catalog_says_shinsei() -> None:
    strings = _catalog_strings()
    assert len(strings) > 500  # the catalog was read
    assert [(mid, text) for mid, text in strings if OTHER_WORDING.search(text)] == []
    translated = dict(strings)
    assert translated["Apply for a library card"] == "利用者登録を申請する"
    assert translated["Application received"] == "申請を受け付けました"
    assert translated["Applicant"] == "申請者"  # the staff side uses the same word


def test_the_japanese_emails_say_shinsei() -> None:
    templates = sorted((PACKAGE / "templates" / "email").glob("*.ja.*"))
    assert len(templates) > 20
    for template in templates:
        assert not OTHER_WORDING.search(template.read_text(encoding="utf-8")), template.name


def test_the_code_and_the_profiles_say_shinsei() -> None:
    strings = _python_strings()
    assert any("申請" in text for _, text in strings)
    assert [(where, text) for where, text in strings if OTHER_WORDING.search(text)] == []
    for profile in sorted((PACKAGE / "profiles").glob("*.toml")):
        assert not OTHER_WORDING.search(profile.read_text(encoding="utf-8")), profile.name


def test_a_received_email_reads_shinsei_from_subject_to_body() -> None:
    profile = load_profile("kashiwa")
    context = {
        "name": "山田 花子",
        "procedure": "renewal",
        "ready_on": date(2026, 12, 1),
        "library": letterhead(profile, "ja"),
    }
    mail = render("application_received", "ja", context)
    assert mail.subject == "【柏市立図書館】有効期限更新の申請を受け付けました"
    assert "有効期限更新の申請を受け付けました。" in mail.body_text
    for part in (mail.subject, mail.body_text, mail.body_html):
        assert not OTHER_WORDING.search(part)
