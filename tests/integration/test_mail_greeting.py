"""Emails address the patron by name in both languages, read as delivered: the outbox's
relay sends them over SMTP to the built-in mail catcher, and the test reads what it caught.

Japanese letters open with the name as the record writes it, family name first, and 様
(山田 花子 様). English ones open with "Dear …,": a name in the Latin alphabet given name
first (Dear John Smith,), a name in kanji as written (Dear 山田 花子,), since the record
holds no romanised name to put in its place (patrons.names.PersonName).
"""

from __future__ import annotations

import asyncio

import msgspec
from sqlalchemy import select

from cardservice.mail import CaughtMail, list_caught, mail_background
from cardservice.mail.render import TEMPLATES, render
from cardservice.patrons.account import set_password
from cardservice.patrons.models import Patron
from cardservice.patrons.names import PersonName
from cardservice.services import Services
from tests.japanese_text import visible_text
from tests.unit.mail.support import free_port
from tests.unit.mail.test_mail_templates import LIBRARY, SAMPLE
from tests.unit.patrons.support import make_patron

PATRONS = {
    # address: (family name, given name, language)
    "hanako@example.org": ("山田", "花子", "en"),
    "john@example.org": ("Smith", "John", "en"),
    "jiro@example.org": ("佐藤", "次郎", "ja"),
    "jane@example.org": ("Smith", "Jane", "ja"),
}


async def _caught(services: Services, count: int) -> list[CaughtMail]:
    for _ in range(200):
        async with services.db.transaction() as session:
            found = await list_caught(session, limit=count + 1)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} mails did not reach the catcher")


async def test_each_patron_is_addressed_by_name_in_their_language(services: Services) -> None:
    for address, (family, given, _) in PATRONS.items():
        card = await make_patron(services, email=address, given=given)
        async with services.db.transaction() as session:
            patron = await session.get(Patron, card.patron_id)
            assert patron is not None
            patron.family_name = family
    settings = msgspec.structs.replace(services.settings, mail_catcher_port=free_port())
    async with services.db.transaction() as session:
        for patron in (await session.scalars(select(Patron))).all():
            language = PATRONS[patron.email][2]
            await set_password(
                session,
                patron,
                patron.password_hash or "",
                profile=settings.profile,
                base_url="https://cards.example.org",
                language="en" if language == "en" else "ja",
            )
    async with mail_background(services.db, settings):
        caught = {mail.rcpt_tos.strip(): mail for mail in await _caught(services, len(PATRONS))}

    expected = {
        "hanako@example.org": "Dear 山田 花子,",
        "john@example.org": "Dear John Smith,",
        "jiro@example.org": "佐藤 次郎 様",
        "jane@example.org": "Smith Jane 様",
    }
    for address, greeting in expected.items():
        mail = caught[address]
        first_line = mail.body_text.splitlines()[0]
        assert first_line == greeting, (address, mail.body_text[:80])
        assert greeting in visible_text(mail.body_html), address
    assert "Hello," not in caught["john@example.org"].body_text
    assert "Smith John" not in caught["john@example.org"].body_text


def test_every_english_email_with_a_name_greets_by_it() -> None:
    """Wherever the Japanese email says 様, the English one says Dear, in both parts."""
    latin = PersonName("Smith", "John")
    greeted = 0
    for name in sorted(TEMPLATES):
        if "name" not in TEMPLATES[name]:
            continue
        for lang, greeting in (("ja", "Smith John 様"), ("en", "Dear John Smith,")):
            context = {key: SAMPLE.get(key) for key in TEMPLATES[name]}
            context |= {"name": latin, "library": LIBRARY[lang]}
            mail = render(name, lang, context)
            assert greeting in mail.body_text.splitlines()[:2], (name, lang)
            assert greeting in visible_text(mail.body_html), (name, lang)
        greeted += 1
    assert greeted >= 13
