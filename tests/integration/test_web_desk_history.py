"""Decided applications stay findable: the staff search of every application by status,
procedure, date range, name, email and reference, a page at a time, on both engines."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update

from cardservice.registration.history import PAGE_SIZE
from cardservice.registration.models import Application, ApplicationStatus
from cardservice.services import Services
from cardservice.staff.models import Role
from tests.web_support import Client, login, make_staff, web_client

SEARCH = "/staff/applications/search"
# 10:00 in Tokyo on 1 April 2026.
APRIL_1 = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(services.settings, mail=False) as running:
        yield running


async def add(
    services: Services,
    *,
    name: tuple[str, str, str, str] = ("山田", "花子", "ヤマダ", "ハナコ"),
    email: str = "hanako@example.org",
    procedure: str = "new",
    status: ApplicationStatus = ApplicationStatus.APPROVED,
    submitted: datetime = APRIL_1,
    decided: datetime | None = None,
) -> Application:
    async with services.db.transaction() as session:
        app = Application(
            email=email,
            procedure=procedure,
            status=status,
            family_name=name[0],
            given_name=name[1],
            family_kana=name[2],
            given_kana=name[3],
            birth_date=date(1990, 4, 1),
            submitted_at=None if status == ApplicationStatus.DRAFT else submitted,
            decided_at=decided,
        )
        session.add(app)
        await session.flush()
        return app


def references(html: str) -> list[str]:
    return re.findall(r'href="/staff/applications/[\w-]+">(R\d{7})</a>', html)


async def test_filters_find_decided_applications(client: Client, services: Services) -> None:
    approved = await add(services, decided=APRIL_1 + timedelta(days=2))
    rejected = await add(
        services,
        name=("鈴木", "一郎", "スズキ", "イチロウ"),
        email="ichiro@example.org",
        procedure="reissue",
        status=ApplicationStatus.REJECTED,
        decided=APRIL_1 + timedelta(days=9),
    )
    waiting = await add(services, procedure="renewal", status=ApplicationStatus.SUBMITTED)
    draft = await add(services, status=ApplicationStatus.DRAFT)
    await make_staff(services, "sato", Role.REVIEWER)
    await login(client, "sato")
    home = await client.get("/staff")
    assert f'href="{SEARCH}"' in home.text

    everything = await client.get(SEARCH)
    assert everything.status_code == 200
    assert references(everything.text) == [
        waiting.reference,
        rejected.reference,
        approved.reference,
    ]  # newest first, drafts left out
    assert draft.reference not in everything.text

    async def found(**params: str) -> list[str]:
        page = await client.get(SEARCH, params=params)
        assert page.status_code == 200, page.text
        return references(page.text)

    assert await found(status="rejected") == [rejected.reference]
    assert await found(status="draft") == [draft.reference]
    assert await found(procedure="reissue") == [rejected.reference]
    assert await found(dates="decided", **{"from": "2026-04-03", "to": "2026-04-03"}) == [
        approved.reference
    ]
    assert await found(dates="decided", **{"from": "2026-04-04"}) == [rejected.reference]
    assert await found(q="すずき") == [rejected.reference]  # kana, typed in hiragana
    assert await found(q="鈴木 一郎") == [rejected.reference]
    assert await found(q="ICHIRO@") == [rejected.reference]
    assert await found(q=approved.reference.lower()) == [approved.reference]
    assert await found(q="佐藤") == []
    # A NUL in the query is turned away before the search, with a page of its own.
    nul = await client.get(SEARCH, params={"q": "鈴木\x00"})
    assert nul.status_code == 400
    assert "制御文字（NULなど）" in nul.text


async def test_bad_filters_are_marked_and_kept(client: Client, services: Services) -> None:
    await make_staff(services, "sato", Role.REVIEWER)
    await login(client, "sato")
    page = await client.get(
        SEARCH, params={"from": "2026-13-01", "status": "lost", "q": "山田", "lang": "en"}
    )
    assert page.status_code == 400
    assert "Write the date as YYYY-MM-DD." in page.text
    assert "Choose a status from the list." in page.text
    assert 'value="2026-13-01"' in page.text
    assert 'value="山田"' in page.text
    backwards = await client.get(
        SEARCH, params={"from": "2026-04-02", "to": "2026-04-01", "lang": "ja"}
    )
    assert backwards.status_code == 400
    assert "期間の終わりが始まりより前になっています。" in backwards.text


async def test_results_come_a_page_at_a_time(client: Client, services: Services) -> None:
    made = [
        await add(services, email=f"p{i}@example.org", submitted=APRIL_1 + timedelta(hours=i))
        for i in range(PAGE_SIZE + 3)
    ]
    await make_staff(services, "sato", Role.REVIEWER)
    await login(client, "sato")
    first = await client.get(SEARCH, params={"q": "example.org"})
    assert len(references(first.text)) == PAGE_SIZE
    assert f"{PAGE_SIZE + 3}件の申請が見つかりました" in first.text
    following = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert following is not None
    second = await client.get(following.group(1).replace("&amp;", "&"))
    assert references(second.text) == [app.reference for app in reversed(made[:3])]
    assert 'rel="next"' not in second.text


async def test_counter_staff_may_not_search_applications(
    client: Client, services: Services
) -> None:
    await make_staff(services, "kato", Role.COUNTER)
    await login(client, "kato")
    refused = await client.get(SEARCH, headers={"Accept": "text/html"})
    assert refused.status_code == 403


async def test_decisions_are_found_by_who_made_them(client: Client, services: Services) -> None:
    sato = await make_staff(services, "sato", Role.REVIEWER)
    suzuki = await make_staff(services, "suzuki", Role.REVIEWER, display_name="鈴木 一郎")
    by_sato = await add(services, decided=APRIL_1 + timedelta(days=1))
    by_suzuki = await add(services, email="ichiro@example.org", decided=APRIL_1)
    async with services.db.transaction() as session:
        for app, staff in ((by_sato, sato), (by_suzuki, suzuki)):
            await session.execute(
                update(Application).where(Application.id == app.id).values(decided_by=staff.id)
            )
    await login(client, "sato")

    page = await client.get(SEARCH, params={"staff": str(suzuki.id), "lang": "ja"})
    assert page.status_code == 200
    assert references(page.text) == [by_suzuki.reference]
    assert f'<option value="{suzuki.id}" selected>鈴木 一郎</option>' in page.text
    assert "<dt>審査した職員</dt><dd>鈴木 一郎</dd>" in page.text
    both = await client.get(SEARCH)
    assert references(both.text) == [by_suzuki.reference, by_sato.reference]

    unknown = await client.get(SEARCH, params={"staff": "999999", "lang": "en"})
    assert unknown.status_code == 400
    assert '<p class="field-error" id="staff-error">Choose a staff member from the list.' in (
        unknown.text
    )
