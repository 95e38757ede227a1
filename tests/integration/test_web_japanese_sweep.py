"""Every page, in Japanese and English, as each kind of visitor sees it: no date written as
ISO (2029-11-30) in the visible text, and no ASCII colon or parenthesis in Japanese text
(「状態：」, 「（おもて）」).

The pages come from the application's route table (every GET route marked as a page), so a
page added later is swept without a change here. Path parameters take the values of the
data made below (an application, a patron and card, a caught email); a parameter this test
does not know gets a placeholder, and the error page that answers is swept like any other.
Each path is asked by an applicant part-way through the form, a logged-in patron, an
administrator and a counter clerk, on SQLite (the text does not depend on the database).
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

import msgspec
import pytest

from cardservice.app import create_app
from cardservice.calendar import japanese_era_year, written_date
from cardservice.db.migrate import upgrade
from cardservice.mail.catcher import Received, store_caught
from cardservice.mail.letterhead import letterhead
from cardservice.mail.models import MailStatus
from cardservice.mail.outbox import OutgoingMail, enqueue
from cardservice.services import Services
from cardservice.staff.models import Role
from tests.page_sweep import fill, page_paths, text_problems
from tests.registration_flow import (
    ask,
    make_reviewer,
    seed_rejection_templates,
    submitted_application,
)
from tests.unit.patrons.support import log_in, make_patron
from tests.web_apply_support import agree, fill_form, open_draft
from tests.web_support import login, make_staff, web_client, with_free_catcher_port


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SQLite only: what a page writes does not depend on the database."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sweep') / 'cardservice.db'}"
    asyncio.run(upgrade(url))
    return url


@pytest.fixture
def profile_name() -> str:
    return "yokohama"


async def _data(services: Services) -> dict[str, str]:
    """An application with a question asked, a patron with a card, the rejection
    templates, a caught email and one that could not be sent."""
    reviewer = await make_reviewer(services)
    await seed_rejection_templates(services)
    public_id = await submitted_application(services, "taro@example.org")
    await ask(services, public_id, reviewer)
    card = await make_patron(services)
    async with services.db.transaction() as session:
        mail = OutgoingMail(
            "hanako@example.org",
            "expiry_reminder",
            "ja",
            {
                "name": "山田 花子",
                "user_number": card.user_number,
                "expires_on": card.expires_on,
                "renew_link": "https://cards.example.org/my",
                "library": letterhead(services.settings.profile, "ja"),
            },
        )
        row = await enqueue(session, mail)
        failed = await enqueue(session, mail)
        failed.status, failed.attempts, failed.last_error = MailStatus.FAILED, 8, "550 unknown user"
        message = EmailMessage()
        message["Subject"] = row.subject
        message.set_content(row.body_text)
        message.add_alternative(row.body_html, subtype="html")
        received = Received("library@example.org", ["hanako@example.org"], message.as_bytes())
        caught = store_caught(session, received)
        await session.flush()
    return {
        "public_id": public_id,
        "patron_id": str(card.patron_id),
        "card_id": str(card.id),
        "action": "suspend",
        "mail_id": str(caught.id),
        "document_id": "1",
        "file_path": "site.css",
    }


async def test_every_page_in_both_languages(services: Services) -> None:
    values = await _data(services)
    await make_staff(services, "admin", Role.ADMIN, display_name="管理 太郎")
    await make_staff(services, "desk", Role.COUNTER, display_name="窓口 次郎")
    settings = with_free_catcher_port(services.settings)
    async with (
        web_client(settings, mail=False) as applicant,
        web_client(settings, mail=False) as patron,
        web_client(settings, mail=False) as admin,
        web_client(settings, mail=False) as desk,
    ):
        # Someone else than the patron, or the form would send them to the counter.
        await open_draft(applicant, services, "saburo@example.org")
        await agree(applicant, services)
        filled = await fill_form(
            applicant, services, given_name="三郎", given_kana="サブロウ", phone="045-000-1111"
        )
        assert filled.status_code == 303, filled.text
        await log_in(patron, "hanako@example.org")
        await login(admin, "admin")
        await login(desk, "desk")
        paths = page_paths(create_app(settings, mail=False, jobs=False))
        report: list[str] = []
        swept = 0
        visitors = {"applicant": applicant, "patron": patron, "admin": admin, "desk": desk}
        for who, client in visitors.items():
            for path in paths:
                for lang in ("ja", "en"):
                    url = f"{fill(path, values)}?lang={lang}"
                    answer = await client.get(url)
                    if "text/html" not in answer.headers.get("content-type", ""):
                        continue
                    swept += 1
                    report += [f"{who} {url}: {p}" for p in text_problems(answer.text, lang)]
    assert swept > 4 * 2 * 20, swept
    assert report == [], "\n".join(report)


async def test_pages_write_the_era_when_the_profile_asks(services: Services) -> None:
    """With ``[display] japanese_era = true``, My Library and the card write 令和…（20xx年）
    in Japanese, and English keeps the Western date."""
    card = await make_patron(services)
    profile = services.settings.profile
    era_profile = msgspec.structs.replace(
        profile, display=msgspec.structs.replace(profile.display, japanese_era=True)
    )
    settings = with_free_catcher_port(
        msgspec.structs.replace(services.settings, profile=era_profile)
    )
    expiry = card.expires_on
    async with web_client(settings, mail=False) as patron:
        await log_in(patron, "hanako@example.org")
        japanese = (await patron.get("/my?lang=ja")).text
        english = (await patron.get("/card?lang=en")).text
    era_year = japanese_era_year(expiry)
    assert f"{era_year}（{expiry.year}年）{expiry.month}月{expiry.day}日" in japanese
    assert "平成2年（1990年）4月1日" in japanese  # the birth date, without a weekday
    # The footer names the office that answers, as the emails' signature does.
    assert "教育委員会事務局 中央図書館企画運営課" in japanese
    assert "Board of Education Secretariat" in english
    assert written_date(expiry, "en") in english
    assert "令和" not in english
