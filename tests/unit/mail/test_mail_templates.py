"""Every email renders in Japanese and English, uses exactly its documented values, and
never asks for a secret."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from jinja2 import meta
from markupsafe import escape

from cardservice.i18n import in_language
from cardservice.mail.errors import MissingContext, UnknownTemplate
from cardservice.mail.letterhead import Letterhead
from cardservice.mail.render import (
    LANGUAGES,
    TEMPLATE_DIR_ENV,
    TEMPLATES,
    environment,
    render,
    template_dir,
)
from cardservice.patrons.names import PersonName

SAMPLE: dict[str, Any] = {
    "link": "https://cards.example.org/register/verify?t=AbC123",
    "expires_hours": 24,
    "name": PersonName("山田", "花子"),
    "procedure": "new",
    "reinstated_number": "110000000014",
    "ready_on": date(2026, 11, 24),
    "user_number": "12345678",
    "card_link": "https://cards.example.org/card/XyZ",
    "expires_on": date(2031, 3, 31),
    "patrons": [
        {"name": PersonName("山田", "花子"), "user_number": "1100000012"},
        {"name": PersonName("山田", "太郎"), "user_number": None},
    ],
    "login_link": "https://cards.example.org/login",
    "reset_link": "https://cards.example.org/password/forgot",
    "new_email": "hanako.new@example.org",
    "reason": "住所が確認できませんでした。",
    "question": "勤務先の名称を教えてください。",
    "answer_link": "https://cards.example.org/inquiry/Q1",
    "answer_by": date(2026, 12, 1),
    "renew_link": "https://cards.example.org/my",
    "old_user_number": "12345601",
    "eloan_notice": "再発行を行うと利用者番号が変わるため、電子図書館での貸出・予約資料のデータは"
    "引き継がれません。",
    "my_link": "https://cards.example.org/my",
    "notice_subject": "台風のため臨時休館します",
    "notice_body": "本日10月1日は台風のため臨時休館します。\n返却はブックポストをご利用ください。",
}
ALL = [(name, lang) for name in sorted(TEMPLATES) for lang in LANGUAGES]
SECRET_WORDS = ("password", "passwd", "secret", "image", "document_file", "photo")


# The example profile's library, with every contact line its signature can print.
LIBRARY = {
    "ja": Letterhead(
        name="横浜市立みなと図書館",
        department="サービス課",
        address="〒231-0005 横浜市中区本町0-0",
        phone="045-000-0000",
        fax="045-000-0001",
        email="library@example.org",
        url="https://library.example.org/",
    ),
    "en": Letterhead(
        name="Yokohama Minato Library",
        department="Patron Services",
        address="0-0 Honcho, Naka-ku, Yokohama 231-0005",
        phone="045-000-0000",
        email="library@example.org",
        url="https://library.example.org/",
    ),
}


def _context(name: str, lang: str = "ja") -> dict[str, Any]:
    values = {**SAMPLE, "library": LIBRARY[lang]}
    return {key: values[key] for key in TEMPLATES[name]}


@pytest.mark.parametrize(("name", "lang"), ALL)
def test_every_template_renders(name: str, lang: str) -> None:
    mail = render(name, lang, _context(name, lang))
    assert mail.subject
    assert "\n" not in mail.subject
    for body in (mail.subject, mail.body_text, mail.body_html):
        assert "{{" not in body
        assert "{%" not in body
        assert "}}" not in body
    assert not mail.body_text.startswith(("Subject:", "\n"))
    assert mail.body_html.lstrip().startswith("<!DOCTYPE html>")
    assert f'<html lang="{lang}">' in mail.body_html
    assert f"<title>{escape(mail.subject)}</title>" in mail.body_html


@pytest.mark.parametrize(("name", "lang"), ALL)
def test_links_appear_in_both_parts(name: str, lang: str) -> None:
    # A link in an English email asks for the page in English: followed in a browser that
    # has not chosen a language (a phone's mail app), it would open in Japanese.
    mail = render(name, lang, _context(name, lang))
    for key in TEMPLATES[name]:
        if key == "link" or key.endswith("_link"):
            url = SAMPLE[key] + ("" if lang == "ja" else ("&" if "?" in SAMPLE[key] else "?"))
            url += "" if lang == "ja" else "lang=en"
            assert url == in_language(SAMPLE[key], lang)
            assert f"{url}\n" in mail.body_text
            assert f'href="{escape(url)}"' in mail.body_html


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_templates_use_exactly_the_documented_values(name: str) -> None:
    """Each part uses only documented values, and every documented value is used by some
    language."""
    env = environment(template_dir())
    # ``library`` is render's own: the subject's 【name】 and the signature use it.
    every = {"library"}
    for lang in ("ja", "en"):
        for suffix in ("txt", "html"):
            filename = f"{name}.{lang}.{suffix}"
            source, _, _ = env.loader.get_source(env, filename)  # type: ignore[union-attr]
            used = meta.find_undeclared_variables(env.parse(source)) - {"lang", "subject"}
            assert used <= TEMPLATES[name], filename
            every |= used
    assert every == TEMPLATES[name]


def test_no_template_asks_for_a_secret_or_an_image() -> None:
    for name, keys in TEMPLATES.items():
        for key in keys:
            assert not any(word in key.lower() for word in SECRET_WORDS), (name, key)


def test_every_template_file_belongs_to_a_registered_email() -> None:
    expected = {f"{n}.{lang}.{s}" for n in TEMPLATES for lang in LANGUAGES for s in ("txt", "html")}
    found = {p.name for p in (template_dir() / "email").iterdir() if not p.name.startswith("_")}
    assert found == expected


def test_subjects_name_the_library_and_the_notice() -> None:
    received = render("application_received", "ja", _context("application_received"))
    completed = render("registration_completed", "ja", _context("registration_completed"))
    assert received.subject == "【横浜市立みなと図書館】利用者登録の申請を受け付けました"
    assert completed.subject == "【横浜市立みなと図書館】利用者登録完了のお知らせ"
    english = render("application_received", "en", _context("application_received", "en"))
    assert (
        english.subject
        == "[Yokohama Minato Library] We have received your library card application"
    )


@pytest.mark.parametrize(
    ("lang", "expected"), [("ja", "2026年11月24日（火）"), ("en", "Tuesday, 24 November 2026")]
)
def test_dates_are_written_for_the_language(lang: str, expected: str) -> None:
    mail = render("application_received", lang, _context("application_received", lang))
    assert expected in mail.body_text
    assert expected in mail.body_html


def test_verify_email_names_the_sender_address() -> None:
    for lang in LANGUAGES:
        mail = render("verify_email", lang, _context("verify_email"))
        assert "library@example.org" in mail.body_text
        assert "24" in mail.body_text


@pytest.mark.parametrize("name", sorted(set(TEMPLATES) - {"emergency_closure"}))
def test_a_japanese_email_names_the_library_before_its_signature(name: str) -> None:
    """As a city office writes (○○図書館です。): the completion, inquiry, reminder and
    cancellation emails began straight after 様 with 図書館の…. The emergency-closure notice
    is the library's own text."""
    mail = render(name, "ja", _context(name))
    library = LIBRARY["ja"].name
    for body, signature in ((mail.body_text, "――――"), (mail.body_html, "<hr")):
        assert library in body.split(signature, 1)[0], name


@pytest.mark.parametrize("name", ["inquiry", "application_cancelled"])
def test_a_question_or_cancellation_names_the_procedure(name: str) -> None:
    """A question about a renewal said 利用者登録の申請 (a new registration)."""
    context = {**_context(name), "procedure": "renewal"}
    ja, en = render(name, "ja", context), render(name, "en", context)
    assert "有効期限更新の申請" in ja.subject
    for body in (ja.body_text, ja.body_html):
        assert "有効期限更新の申請" in body
        assert "利用者登録" not in body
    assert "renewal application" in en.subject
    for body in (en.body_text, en.body_html):
        assert "your renewal application" in " ".join(body.split()).lower()
        assert "library card application" not in body


def test_verify_email_says_an_expired_link_is_asked_again_and_the_draft_kept() -> None:
    """Not "start again": a new link for the same address resumes the saved draft
    (registration.drafts.open_application)."""
    context = _context("verify_email")
    ja, en = render("verify_email", "ja", context), render("verify_email", "en", context)
    for body in (ja.body_text, ja.body_html):
        assert "新しいリンクをお受け取りください。途中まで保存した内容は残っています。" in body
        assert "はじめから" not in body
    for body in (en.body_text, en.body_html):
        assert "what you have saved is kept" in " ".join(body.split())
        assert "start your application again" not in body


def test_html_escapes_values_and_text_keeps_them() -> None:
    context = {**_context("inquiry"), "question": "<b>Is</b> this & that\nright?"}
    mail = render("inquiry", "en", context)
    assert "&lt;b&gt;Is&lt;/b&gt; this &amp; that" in mail.body_html
    assert "<b>" not in mail.body_html
    assert "<b>Is</b> this & that\nright?" in mail.body_text


def test_unknown_template_or_language() -> None:
    with pytest.raises(UnknownTemplate) as caught:
        render("welcome", "ja", {})
    assert caught.value.code == "mail_unknown_template"
    with pytest.raises(UnknownTemplate):
        render("verify_email", "fr", _context("verify_email"))


def test_missing_values_are_named() -> None:
    context = _context("inquiry")
    del context["answer_by"]
    with pytest.raises(MissingContext) as caught:
        render("inquiry", "ja", context)
    assert caught.value.code == "mail_missing_context"
    assert caught.value.detail["missing"] == ["answer_by"]


def test_template_dir_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "application_cancelled.en.txt").write_text(
        "Subject: Cancelled, {{ name }}\n\nBecause {{ answer_by }}.\n", encoding="utf-8"
    )
    (tmp_path / "email" / "application_cancelled.en.html").write_text(
        "<p>{{ name }}</p>", encoding="utf-8"
    )
    (tmp_path / "email" / "_signature.en.txt").write_text("-- {{ library.name }}\n")
    monkeypatch.setenv(TEMPLATE_DIR_ENV, str(tmp_path))
    assert template_dir() == tmp_path.resolve()
    context = {
        "name": "a < b",
        "procedure": "new",
        "answer_by": "then",
        "library": Letterhead(name="L", email="l@x.jp"),
    }
    mail = render("application_cancelled", "en", context)
    assert mail.subject == "[L] Cancelled, a < b"
    assert mail.body_text == "Because then.\n\n-- L\n"
    assert mail.body_html == "<p>a &lt; b</p>"


def test_default_template_dir_is_the_repository_templates() -> None:
    assert (template_dir() / "email" / "verify_email.ja.txt").is_file()
