"""Every place that takes an email address takes it as people type it, through one rule
(``mail.addresses``), on both engines: applying, the forgotten number, password reset,
login, email change, the desk search, ``patron create`` and ``patron import``; and the
relay fails for good, with a reason, what a server without SMTPUTF8 cannot take."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from cardservice.cards.numbers import compose
from cardservice.cards.service import CardPolicy
from cardservice.db.engine import Database
from cardservice.db.migrate import upgrade
from cardservice.mail import MailStatus
from cardservice.patrons.models import Patron
from cardservice.services import Services
from cardservice.settings import Settings
from tests.cli_support import cardservice, cli_env
from tests.integration.test_registration_migration import fresh_url  # noqa: F401  # a fixture
from tests.unit.mail.support import (
    SmtpSink,
    free_port,
    outbox_row,
    queue,
    relay_to,
    verify_mail,
)
from tests.unit.patrons.support import log_in, mails, make_patron, post_page_form
from tests.web_apply_support import ask_link
from tests.web_support import (
    Client,
    csrf_from,
    login,
    make_staff,
    web_client,
    with_free_catcher_port,
)

# What people type, and the one form it is stored and mailed in.
TYPED = {
    "hanako@例え.jp": "hanako@xn--r8jz45g.jp",
    "hanako@example.jp\u200b": "hanako@example.jp",
    "hanako@example.jp\u200e": "hanako@example.jp",
    '"taro..yamada"@docomo.ne.jp': '"taro..yamada"@docomo.ne.jp',
    "taro..yamada@docomo.ne.jp": '"taro..yamada"@docomo.ne.jp',
    ".taro@ezweb.ne.jp": '".taro"@ezweb.ne.jp',
    "taro.@docomo.ne.jp": '"taro."@docomo.ne.jp',
}
REFUSED = ['"taro yamada"@example.jp', "hanako@", "hanako@localhost"]


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


@pytest.mark.parametrize(("typed", "stored"), TYPED.items())
async def test_applying_sends_the_link_to_the_stored_form(
    client: Client, services: Services, typed: str, stored: str
) -> None:
    sent = await ask_link(client, typed)
    assert (sent.status_code, sent.headers["location"]) == (303, "/apply/sent")
    [row] = await mails(services, "verify_email")
    assert row.to_address == stored


@pytest.mark.parametrize("typed", REFUSED)
async def test_applying_with_no_address_is_a_page_error(
    client: Client, services: Services, typed: str
) -> None:
    refused = await ask_link(client, typed)
    assert refused.status_code == 400
    assert "text/html" in refused.headers["content-type"]
    assert await mails(services, "verify_email") == []


@pytest.mark.parametrize(("typed", "stored"), TYPED.items())
async def test_recovery_login_and_desk_find_the_patron_however_typed(
    client: Client, services: Services, typed: str, stored: str
) -> None:
    card = await make_patron(services, email=typed)
    async with services.db.transaction() as session:
        assert (await session.get(Patron, card.patron_id)).email == stored  # type: ignore[union-attr]

    number_form = await client.get("/forgot-number")
    await client.post(
        "/forgot-number",
        data={
            "email": typed,
            "birth_date": "1990-04-01",
            "_csrf_token": csrf_from(number_form.text),
        },
    )
    [reminder] = await mails(services, "number_reminder")
    assert reminder.to_address == stored
    assert card.user_number in reminder.body_text

    reset_form = await client.get("/password/forgot")
    await client.post(
        "/password/forgot", data={"login": typed, "_csrf_token": csrf_from(reset_form.text)}
    )
    [reset] = await mails(services, "password_reset")
    assert reset.to_address == stored

    await log_in(client, typed)

    async with web_client(with_free_catcher_port(services.settings), mail=False) as desk:
        await make_staff(services, "desk")
        await login(desk, "desk")
        found = await desk.get("/staff/patrons", params={"q": typed.upper()})
    if found.status_code == 303:
        assert found.headers["location"] == f"/staff/patrons/{card.patron_id}"
    else:
        assert found.status_code == 200, found.text
        assert f"/staff/patrons/{card.patron_id}" in found.text


@pytest.mark.parametrize(("typed", "stored"), TYPED.items())
async def test_an_email_change_goes_to_the_stored_form(
    client: Client, services: Services, typed: str, stored: str
) -> None:
    card = await make_patron(services)
    await log_in(client, card.user_number)
    asked = await post_page_form(client, "/my/email", {"email": typed})
    assert asked.status_code == 303, asked.text
    [verify] = await mails(services, "email_change_verify")
    assert verify.to_address == stored


async def test_an_email_change_to_no_address_is_a_field_error(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    await log_in(client, card.user_number)
    for typed in REFUSED:
        refused = await post_page_form(client, "/my/email", {"email": typed})
        assert refused.status_code == 400, typed
    assert await mails(services, "email_change_verify") == []


# --- the command line, as an operator runs it ----------------------------------------------


def _stored(settings: Settings) -> list[tuple[str, str]]:
    """Each patron's family name and email, as stored."""

    async def go() -> list[tuple[str, str]]:
        svc = Services.build(settings)
        try:
            async with svc.db.transaction() as session:
                rows = await session.execute(
                    select(Patron.family_name, Patron.email).order_by(Patron.id)
                )
                return [(name, email) for name, email in rows]
        finally:
            await svc.close()

    return asyncio.run(go())


def test_patron_create_and_import_store_one_form(empty_db: Settings, tmp_path: Path) -> None:
    env = cli_env(empty_db, empty_db.data_dir)
    for typed in ("taro..yamada@docomo.ne.jp", "hanako@例え.jp\u200e"):
        cardservice(
            env, "patron", "create", "--family-name", "\ufa10本", "--given-name", "太郎",
            "--family-kana", "やまだ", "--given-kana", "たろう", "--birth-date", "1990-04-01",
            "--email", typed,
        )  # fmt: skip
    refused = cardservice(
        env, "patron", "create", "--family-name", "山田", "--given-name", "太郎",
        "--family-kana", "やまだ", "--given-kana", "たろう", "--birth-date", "1990-04-01",
        "--email", '"taro yamada"@example.jp', ok=False,
    )  # fmt: skip
    assert "mail_invalid_recipient" in refused.err

    fmt = CardPolicy.of(empty_db.profile).number_format
    header = (
        "利用者番号,氏,名,氏カナ,名カナ,生年月日,メールアドレス,電話番号,郵便番号,都道府県,"
        "市区町村,番地,建物名,有効期限,状態"
    )
    emails = [
        "ｔａｒｏ．．ｙａｍａｄａ＠ｄｏｃｏｍｏ．ｎｅ．ｊｐ",
        ".taro@ezweb.ne.jp\u200b",
        "taro yamada@x.jp",
    ]
    # 神 U+FA19 as the export wrote it: kept, as names are (never NFKC'd to U+795E).
    row = "{},\ufa19田,一郎,カンダ,イチロウ,1985/01/02,{},,,,,,,2027/03/31,有効"
    rows = [row.format(compose(fmt, 900 + i), email) for i, email in enumerate(emails)]
    path = tmp_path / "ils.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8-sig")
    imported = cardservice(env, "patron", "import", str(path), ok=False)
    assert "refused 1" in imported.out
    assert "email" in imported.out
    assert _stored(empty_db) == [
        ("\ufa10本", '"taro..yamada"@docomo.ne.jp'),
        ("\ufa10本", "hanako@xn--r8jz45g.jp"),
        ("\ufa19田", '"taro..yamada"@docomo.ne.jp'),
        ("\ufa19田", '".taro"@ezweb.ne.jp'),
    ]


@pytest.fixture
def profile_name() -> str:
    return "kashiwa"  # the import columns are Kashiwa's


# --- the relay -----------------------------------------------------------------------------


@pytest.fixture
def plain_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(free_port(), smtputf8=False)
    sink.start()
    yield sink
    sink.stop()


async def test_no_smtputf8_fails_the_email_at_once_with_a_reason(
    services: Services, plain_sink: SmtpSink
) -> None:
    international, legacy = await queue(
        services, verify_mail("花子@例え.jp"), verify_mail("taro..yamada@docomo.ne.jp")
    )
    relay = relay_to(services, plain_sink.port)
    assert await relay.run_once() == 1
    failed = await outbox_row(services, international)
    assert failed.status == MailStatus.FAILED  # not retried for an hour as if temporary
    assert failed.attempts == 1
    assert "SMTPUTF8" in (failed.last_error or "")
    assert "花子@xn--r8jz45g.jp" in (failed.last_error or "")
    assert (await outbox_row(services, legacy)).status == MailStatus.SENT
    [envelope] = plain_sink.envelopes
    assert envelope.rcpt_tos == ["taro..yamada@docomo.ne.jp"]  # aiosmtpd drops the quotes


# --- addresses stored before the one rule ----------------------------------------------------


async def test_the_migration_stores_old_addresses_in_the_one_form(
    fresh_url: str,  # noqa: F811  # the fixture imported above
) -> None:
    await upgrade(fresh_url, "0005")
    database = Database(fresh_url)
    typed = ["hanako@例え.jp", "taro..yamada@docomo.ne.jp\u200b", "", "not an address"]
    try:
        async with database.transaction() as session:
            for index, email in enumerate(typed):
                session.add(
                    Patron(
                        family_name="山田",
                        given_name="花子",
                        family_kana="ヤマダ",
                        given_kana="ハナコ",
                        birth_date=date(1990, 4, 1 + index),
                        email=email,
                    )
                )
    finally:
        await database.dispose()
    await upgrade(fresh_url)
    database = Database(fresh_url)
    try:
        async with database.transaction() as session:
            stored = list(await session.scalars(select(Patron.email).order_by(Patron.id)))
    finally:
        await database.dispose()
    assert stored == ["hanako@xn--r8jz45g.jp", '"taro..yamada"@docomo.ne.jp', "", "not an address"]
