"""Every email in Japanese and English, in every variant its values choose: the subject
names the library (【…】 / [...]), the body ends with the library's signature, no date is
written as ISO, and Japanese text takes full-width colons and parentheses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from cardservice.mail.letterhead import letterhead
from cardservice.mail.render import LANGUAGES, TEMPLATES, RenderedMail, render
from cardservice.profiles import load_profile
from tests.japanese_text import ascii_in_japanese, iso_dates, visible_text
from tests.unit.mail.test_mail_templates import LIBRARY, SAMPLE

PROCEDURES = ("new", "reissue", "renewal", "change")


def _variants(name: str, lang: str) -> Iterator[dict[str, Any]]:
    """The realistic contexts of email ``name``: each procedure, with and without a number
    to give back or a patron found, and the library writing eras or not."""
    base = {key: {**SAMPLE, "library": LIBRARY[lang]}[key] for key in TEMPLATES[name]}
    variants = [base]
    if "procedure" in base:
        variants = [{**base, "procedure": p} for p in PROCEDURES]
    if "reinstated_number" in base:
        variants += [{**v, "reinstated_number": ""} for v in variants]
    if "patrons" in base:
        variants.append({**base, "patrons": []})
    for variant in variants:
        yield variant
        yield {**variant, "library": replace(variant["library"], japanese_era=True)}


def _mails() -> Iterator[tuple[str, str, int, RenderedMail]]:
    for name in sorted(TEMPLATES):
        for lang in LANGUAGES:
            for number, context in enumerate(_variants(name, lang)):
                yield name, lang, number, render(name, lang, context)


MAILS = list(_mails())
IDS = [f"{name}-{lang}-{number}" for name, lang, number, _ in MAILS]


@pytest.mark.parametrize(("name", "lang", "number", "mail"), MAILS, ids=IDS)
def test_subject_names_the_library(name: str, lang: str, number: int, mail: RenderedMail) -> None:
    library = LIBRARY[lang].name
    prefix = f"【{library}】" if lang == "ja" else f"[{library}] "
    assert mail.subject.startswith(prefix)
    assert mail.subject.count(library) == 1, mail.subject
    assert len(mail.subject) > len(prefix)


@pytest.mark.parametrize(("name", "lang", "number", "mail"), MAILS, ids=IDS)
def test_body_ends_with_the_signature(
    name: str, lang: str, number: int, mail: RenderedMail
) -> None:
    library = LIBRARY[lang]
    phone = "電話：045-000-0000" if lang == "ja" else "Phone: 045-000-0000"
    for text in (mail.body_text, visible_text(mail.body_html)):
        tail = text.rstrip().splitlines()[-7:]
        for line in (library.name, library.department, library.address, library.url):
            assert line in tail, (line, tail)
        assert any(phone in t for t in tail), tail
        assert any(library.email in t for t in tail), tail
    # The signature's rule closes the Japanese text body, as 「―」 lines open it.
    if lang == "ja":
        assert mail.body_text.rstrip().endswith("――――")
    # The library's name is not also written as a closing line just above the signature.
    lines = mail.body_text.rstrip().splitlines()
    start = len(lines) - 1 - lines[::-1].index(library.name)
    assert library.name not in lines[max(0, start - 3) : start], lines[start - 3 : start]


@pytest.mark.parametrize(("name", "lang", "number", "mail"), MAILS, ids=IDS)
def test_no_iso_dates_and_japanese_punctuation(
    name: str, lang: str, number: int, mail: RenderedMail
) -> None:
    assert "\n\n\n" not in mail.body_text  # one blank line between paragraphs, never two
    for text in (mail.subject, mail.body_text, visible_text(mail.body_html)):
        assert iso_dates(text) == [], text
        if lang == "ja":
            assert ascii_in_japanese(text) == [], text


def test_dates_follow_the_era_setting() -> None:
    context = {key: {**SAMPLE, "library": LIBRARY["ja"]}[key] for key in TEMPLATES["inquiry"]}
    context["answer_by"] = date(2029, 11, 30)
    plain = render("inquiry", "ja", context)
    era = render("inquiry", "ja", {**context, "library": replace(LIBRARY["ja"], japanese_era=True)})
    assert "2029年11月30日までに" in plain.body_text
    assert "令和11年（2029年）11月30日までに" in era.body_text
    assert "令和11年（2029年）11月30日" in visible_text(era.body_html)
    english = render(
        "inquiry", "en", {**context, "library": replace(LIBRARY["en"], japanese_era=True)}
    )
    assert "30 November 2029" in english.body_text


def test_acceptance_email_and_done_page_agree_on_by() -> None:
    """The done page says the card is ready 「までに」 a date: so does the email, for every
    procedure (never 「から」, which would promise the card no sooner than that day)."""
    for procedure in PROCEDURES:
        context = {
            key: {**SAMPLE, "library": LIBRARY["ja"], "procedure": procedure}[key]
            for key in TEMPLATES["application_received"]
        }
        mail = render("application_received", "ja", context)
        assert "2026年11月24日（火）までに" in mail.body_text
        assert "から" not in mail.body_text.split("2026年11月24日（火）")[1][:3]


@pytest.mark.parametrize("profile_id", ["example", "yokohama", "kashiwa"])
def test_each_profile_signs_with_its_own_contact(profile_id: str) -> None:
    profile = load_profile(profile_id)
    for lang in LANGUAGES:
        library = letterhead(profile, lang)
        context = {**{k: SAMPLE[k] for k in TEMPLATES["password_changed"] if k != "library"}}
        mail = render("password_changed", lang, {**context, "library": library})
        tail = mail.body_text.rstrip().splitlines()[-8:]
        assert library.name in tail
        assert any(profile.library.sender_email in line for line in tail)
        if profile.library.phone:
            assert any(profile.library.phone in line for line in tail)
        if profile.library.department:
            assert profile.library.department.get(lang) in tail


def test_english_emails_greet_the_patron_by_name() -> None:
    """Where the Japanese email opens with 山田 花子 様, the English one opens with
    "Dear 山田 花子,": a name in kanji is kept as written (the record has no romanised
    name); one in the Latin alphabet is put given name first (tests/integration/
    test_mail_greeting.py)."""
    greeted = 0
    for name, lang, _, mail in MAILS:
        if lang != "en" or "name" not in TEMPLATES[name]:
            continue
        for text in (mail.body_text, visible_text(mail.body_html)):
            assert "Dear 山田 花子," in text, name
            assert "Hello," not in text, name
        greeted += 1
    assert greeted
