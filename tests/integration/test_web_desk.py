"""The staff card desk over HTTP, on both engines: search, a patron's record, the card
actions with their audit rows, the counter role's read-only view, and a reissue at the desk
as the verify API, the barcode images and the patron's email see it."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from cardservice.cards.barcodes import Symbology
from cardservice.cards.models import Card, CardEvent
from cardservice.cards.numbers import barcode_value
from cardservice.patrons.models import Patron
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.registration.models import Application, ApplicationStatus
from cardservice.services import Services
from cardservice.staff.models import AuditEntry, Role
from tests.card_support import card_token_of, counter_api_key, verify
from tests.registration_flow import outbox
from tests.web_support import Client, csrf_from, login, make_staff, web_client

HTML = {"Accept": "text/html"}


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(services.settings, mail=False) as running:
        yield running


async def make_patron(
    services: Services,
    family: tuple[str, str] = ("山田", "やまだ"),
    given: tuple[str, str] = ("花子", "はなこ"),
    email: str = "hanako@example.org",
) -> Card:
    async with services.db.transaction() as session:
        return await create_patron_with_card(
            session,
            NewPatron(
                family_name=family[0],
                given_name=given[0],
                family_kana=family[1],
                given_kana=given[1],
                birth_date=date(1990, 4, 1),
                email=email,
            ),
            services.policy,
        )


async def reviewer(client: Client, services: Services, role: Role = Role.REVIEWER) -> None:
    await make_staff(services, "desk", role)
    await login(client, "desk")


def names_listed(html: str) -> list[str]:
    return re.findall(r'class="subject" href="/staff/patrons/\d+">([^<]+)</a>', html)


async def card_of(services: Services, card_id: int) -> Card:
    async with services.db.transaction() as session:
        card = await session.get(Card, card_id)
        assert card is not None
        return card


async def audit_actions(services: Services) -> list[tuple[str, str, dict[str, Any]]]:
    async with services.db.transaction() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.target_type == "card").order_by(AuditEntry.id)
        )
        return [(row.action, row.target_id, row.detail) for row in rows]


async def act(
    client: Client, card: Card, action: str, **fields: str
) -> Any:  # the response of the POST
    path = f"/staff/patrons/{card.patron_id}/cards/{card.id}/{action}"
    form = await client.get(path)
    assert form.status_code == 200, form.text
    return await client.post(path, data={"_csrf_token": csrf_from(form.text), **fields})


# ---------------------------------------------------------------------------------- search


async def test_search_by_number_name_kana_and_email(client: Client, services: Services) -> None:
    hanako = await make_patron(services)
    await make_patron(services, given=("太郎", "たろう"), email="taro@example.org")
    await make_patron(services, ("鈴木", "すずき"), ("一郎", "いちろう"), "ichiro@example.org")
    await reviewer(client, services)

    # A scanner's input (start/stop characters, here typed full-width) goes to the patron.
    scanned = barcode_value(Symbology.CODABAR, services.policy.number_format, hanako.user_number)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in scanned)
    found = await client.get("/staff/patrons", params={"q": full_width})
    assert found.status_code == 303
    assert found.headers["location"] == f"/staff/patrons/{hanako.patron_id}"

    kanji = await client.get("/staff/patrons", params={"q": "山田"})
    assert sorted(names_listed(kanji.text)) == ["山田 太郎", "山田 花子"]
    assert hanako.user_number in kanji.text

    partial_kana = await client.get("/staff/patrons", params={"q": "やまだ　はな"})
    assert names_listed(partial_kana.text) == ["山田 花子"]
    half_width = await client.get("/staff/patrons", params={"q": "ｽｽﾞｷ"})
    assert names_listed(half_width.text) == ["鈴木 一郎"]
    email = await client.get("/staff/patrons", params={"q": "TARO@example"})
    assert names_listed(email.text) == ["山田 太郎"]

    nobody = await client.get("/staff/patrons", params={"q": "佐藤"})
    assert nobody.status_code == 200
    assert "該当する利用者はいません。" in nobody.text


async def test_search_errors_keep_what_was_typed(client: Client, services: Services) -> None:
    card = await make_patron(services)
    await reviewer(client, services)
    wrong = card.user_number[:-1] + str((int(card.user_number[-1]) + 1) % 10)
    page = await client.get("/staff/patrons", params={"q": wrong, "lang": "en"})
    assert page.status_code == 400
    assert "The check digit of this number does not match" in page.text
    assert f'value="{wrong}"' in page.text
    assert 'aria-invalid="true"' in page.text
    empty = await client.get("/staff/patrons", params={"q": "  ", "lang": "ja"})
    assert empty.status_code == 400
    assert "利用者番号、氏名またはメールアドレスを入力してください。" in empty.text
    # A control character cannot be typed: the service refuses it at the edge, with a page
    # that says so (PostgreSQL refuses NUL). Format characters are no part of a search.
    nul = await client.get("/staff/patrons", params={"q": "山\x00田"})
    assert nul.status_code == 400
    assert "入力できない制御文字" in nul.text
    hidden = await client.get("/staff/patrons", params={"q": "山田\u200b"})
    assert names_listed(hidden.text) == ["山田 花子"]


async def test_staff_home_links_the_desk(client: Client, services: Services) -> None:
    await reviewer(client, services, Role.COUNTER)
    home = await client.get("/staff")
    assert 'href="/staff/patrons"' in home.text
    desk = await client.get("/staff/patrons")
    assert desk.status_code == 200
    assert 'name="q"' in desk.text


# ---------------------------------------------------------------------------------- record


async def test_patron_page_shows_cards_events_and_applications(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    async with services.db.transaction() as session:
        app = Application(
            email="hanako@example.org",
            procedure="renewal",
            status=ApplicationStatus.REJECTED,
            patron_id=card.patron_id,
            family_name="山田",
            given_name="花子",
        )
        session.add(app)
        await session.flush()
        reference, public_id = app.reference, app.public_id
    await reviewer(client, services)
    await act(client, card, "suspend", reason="reported_lost", confirm="yes")
    page = await client.get(f"/staff/patrons/{card.patron_id}?lang=en")
    assert page.status_code == 200
    assert card.user_number in page.text
    assert "Suspended" in page.text
    assert "Reported lost" in page.text
    assert "Card suspended" in page.text  # the card event
    assert f'href="/staff/applications/{public_id}">{reference}</a>' in page.text
    assert "Renewal" in page.text
    assert "Rejected" in page.text
    assert "hanako@example.org" in page.text
    missing = await client.get("/staff/patrons/999999", headers=HTML)
    assert missing.status_code == 404


# --------------------------------------------------------------------------------- actions


async def test_each_action_is_confirmed_done_and_audited(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    await reviewer(client, services)

    unconfirmed = await act(client, card, "suspend", reason="reported_lost")
    assert unconfirmed.status_code == 400
    assert "確認のチェックを入れてください。" in unconfirmed.text
    assert (await card_of(services, card.id)).status == "active"

    done = await act(client, card, "suspend", reason="reported_lost", confirm="yes")
    assert done.status_code == 303
    assert done.headers["location"].startswith(f"/staff/patrons/{card.patron_id}?done=suspend")
    assert (await card_of(services, card.id)).status_reason == "reported_lost"

    assert (await act(client, card, "reinstate", confirm="yes")).status_code == 303
    assert (await card_of(services, card.id)).status == "active"

    bad_reason = await act(client, card, "revoke", reason="reissued", confirm="yes")
    assert bad_reason.status_code == 400
    assert "理由を一覧から選んでください。" in bad_reason.text
    assert (await act(client, card, "revoke", reason="lost", confirm="yes")).status_code == 303
    revoked = await card_of(services, card.id)
    assert (revoked.status, revoked.status_reason) == ("revoked", "lost")

    assert [
        (action, target, detail.get("reason"))
        for action, target, detail in await audit_actions(services)
    ] == [
        ("card.suspend", card.user_number, "reported_lost"),
        ("card.reinstate", card.user_number, None),
        ("card.revoke", card.user_number, "lost"),
    ]
    async with services.db.transaction() as session:
        kinds = list(
            await session.scalars(
                select(CardEvent.kind).where(CardEvent.kind != "issued").order_by(CardEvent.id)
            )
        )
    assert kinds == ["suspended", "reinstated", "revoked"]


async def test_refused_actions_say_why_and_change_nothing(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    await reviewer(client, services)
    base = f"/staff/patrons/{card.patron_id}/cards/{card.id}"
    not_suspended = await client.get(f"{base}/reinstate", headers=HTML)
    assert not_suspended.status_code == 409
    assert "このカードは利用停止中ではないため" in not_suspended.text
    assert f'href="/staff/patrons/{card.patron_id}"' in not_suspended.text

    form = await client.get(f"{base}/revoke")
    token = csrf_from(form.text)
    await act(client, card, "revoke", reason="withdrawn", confirm="yes")
    # The revoke form was opened before: sending it again is refused, not done twice.
    again = await client.post(
        f"{base}/revoke", data={"_csrf_token": token, "reason": "lost", "confirm": "yes"}
    )
    assert again.status_code == 409
    assert "このカードはすでに失効しています。何も変更していません。" in again.text
    reissue = await client.get(f"{base}/reissue?lang=en", headers=HTML)
    assert reissue.status_code == 409
    assert "This card is already revoked." in reissue.text
    assert (await card_of(services, card.id)).status_reason == "withdrawn"
    assert len(await audit_actions(services)) == 1
    unknown = await client.get(f"{base}/explode", headers=HTML)
    assert unknown.status_code == 404


async def test_counter_role_reads_but_may_not_act(client: Client, services: Services) -> None:
    card = await make_patron(services)
    await make_staff(services, "sato", Role.REVIEWER)
    await reviewer(client, services, Role.COUNTER)
    page = await client.get(f"/staff/patrons/{card.patron_id}")
    assert page.status_code == 200
    assert card.user_number in page.text
    assert f"/cards/{card.id}/" not in page.text  # no action links
    assert "この職員アカウントの権限では、カードの照会のみできます。" in page.text
    path = f"/staff/patrons/{card.patron_id}/cards/{card.id}/suspend"
    assert (await client.get(path, headers=HTML)).status_code == 403
    refused = await client.post(
        path,
        data={"_csrf_token": csrf_from(page.text), "reason": "staff", "confirm": "yes"},
        headers=HTML,
    )
    assert refused.status_code == 403
    assert "この操作を行う権限がありません。" in refused.text
    assert (await card_of(services, card.id)).status == "active"
    assert await audit_actions(services) == []


# --------------------------------------------------------------------------------- reissue


async def verdict(client: Client, key: str, **body: str) -> tuple[str, str | None]:
    """The counter API's status and reason."""
    answer = await verify(client, key, **body)
    return answer["status"], answer["reason"]


def decode_png(png: bytes) -> list[tuple[str, zxingcpp.BarcodeFormat]]:
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        return [(s.text, s.format) for s in zxingcpp.read_barcodes(image)]


async def test_reissue_at_the_desk_gives_a_new_number_at_once(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    old_token = card_token_of(services, card)
    key = await counter_api_key(services)
    await reviewer(client, services)

    done = await act(client, card, "reissue", reason="lost", confirm="yes")
    assert done.status_code == 303
    page = await client.get(done.headers["location"])
    found = re.search(
        r'card-active"><span class="card-state-value"><code class="number">(\w+)<', page.text
    )
    assert found is not None, page.text
    new_number = found.group(1)
    assert new_number != card.user_number
    assert "新しい番号を利用者に伝えてください。メールでもお知らせしました。" in page.text

    assert await verdict(client, key, barcode=card.user_number) == ("revoked", "reissued")
    assert await verdict(client, key, token=old_token) == ("revoked", "reissued")
    assert await verdict(client, key, barcode=new_number) == ("valid", None)

    codabar = barcode_value(Symbology.CODABAR, services.policy.number_format, new_number)
    png = await client.get("/api/v1/barcodes/codabar/png", params={"data": codabar})
    assert png.status_code == 200
    assert decode_png(png.content) == [(codabar, zxingcpp.BarcodeFormat.Codabar)]

    mails = await outbox(services, "reissue_completed")
    assert [mail.to_address for mail in mails] == ["hanako@example.org"]
    assert new_number in mails[0].body_text
    assert card.user_number in mails[0].body_text
    async with services.db.transaction() as session:
        event = await session.scalar(select(CardEvent).where(CardEvent.kind == "reissued"))
    assert event is not None
    assert (event.user_number, event.new_user_number) == (card.user_number, new_number)
    [(action, target, detail)] = await audit_actions(services)
    assert (action, target, detail["new_user_number"]) == (
        "card.reissue",
        card.user_number,
        new_number,
    )


async def test_name_change_reissue_updates_the_name(client: Client, services: Services) -> None:
    card = await make_patron(services)
    await reviewer(client, services)
    bad = await act(
        client, card, "reissue", reason="name_changed", confirm="yes",
        family_name="佐藤", given_name="花子", family_kana="sato", given_kana="はなこ",
    )  # fmt: skip
    assert bad.status_code == 400
    assert "フリガナはカタカナまたはひらがなで入力してください。" in bad.text
    assert 'value="sato"' in bad.text  # what was typed is kept
    assert (await card_of(services, card.id)).status == "active"

    done = await act(
        client, card, "reissue", reason="name_changed", confirm="yes",
        family_name="佐藤", given_name="花子", family_kana="さとう", given_kana="ﾊﾅｺ",
    )  # fmt: skip
    assert done.status_code == 303
    async with services.db.transaction() as session:
        patron = await session.get(Patron, card.patron_id)
        assert patron is not None
        assert (patron.family_name, patron.family_kana, patron.given_kana) == (
            "佐藤",
            "サトウ",
            "ハナコ",
        )
    assert (await card_of(services, card.id)).status_reason == "reissued"
    [mail] = await outbox(services, "reissue_completed")
    assert "佐藤 花子" in mail.body_text
