"""A forgotten user number and a forgotten password over HTTP, for both libraries' profiles,
on both engines.

The answers for a known and an unknown person are compared byte for byte (status, every
header, body) and timed; the emails are read from the outbox, and once from a real SMTP
server, and their links followed. Reset links expire by travelling in time.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage

import httpx
import msgspec
import pytest
import time_machine
from sqlalchemy import func, select

from cardservice.cards.models import Card, RevocationReason
from cardservice.cards.service import issue_card, revoke_card
from cardservice.patrons.models import PatronSource
from cardservice.patrons.routes.recovery import ANSWER_SECONDS
from cardservice.security.models import LinkToken
from cardservice.services import Services
from cardservice.settings import Settings
from tests.unit.mail.support import SmtpSink, free_port, relay_to
from tests.unit.patrons.support import (
    BIRTH,
    EMAIL,
    NEW_PASSWORD,
    PASSWORD,
    devices_of,
    log_in,
    mails,
    make_patron,
    path_in,
    patron,
    post_login,
)
from tests.web_support import Client, csrf_from, web_client, with_free_catcher_port


@pytest.fixture(params=["yokohama", "kashiwa"])
def profile_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


async def ask_number(
    client: Client, email: str, birth: str, *, page: str = "/forgot-number"
) -> httpx.Response:
    form = await client.get(page)
    assert form.status_code == 200, form.text
    return await client.post(
        "/forgot-number",
        data={"email": email, "birth_date": birth, "_csrf_token": csrf_from(form.text)},
    )


async def ask_reset(
    client: Client, login: str, *, page: str = "/password/forgot"
) -> httpx.Response:
    form = await client.get(page)
    assert form.status_code == 200, form.text
    return await client.post(
        "/password/forgot", data={"login": login, "_csrf_token": csrf_from(form.text)}
    )


Whole = tuple[int, tuple[tuple[bytes, bytes], ...], bytes]


def whole(response: httpx.Response) -> Whole:
    """Everything the client receives: status, every header as sent, the body."""
    return response.status_code, tuple(response.headers.raw), response.content


def field_marked(html: str, name: str) -> bool:
    return bool(re.search(rf'<input id="{name}"[^>]*aria-invalid="true"', html))


# --- forgotten user number ----------------------------------------------------------------


async def test_the_number_comes_by_email_and_its_link_leads_to_login(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    login_page = await client.get("/login")
    assert 'href="/forgot-number"' in login_page.text
    answer = await ask_number(client, " Hanako@Example.org ", "1990-04-01")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/forgot-number/sent"
    sent = await client.get("/forgot-number/sent")
    assert services.settings.profile.library.sender_email in sent.text
    [mail] = await mails(services, "number_reminder")
    assert mail.to_address == EMAIL
    assert "利用者番号のお知らせ" in mail.subject
    assert f"山田 花子 様：{card.user_number}" in mail.body_text
    assert card.user_number in mail.body_html
    login = path_in(mail.body_text, "/login")
    assert (await client.get(login)).status_code == 200
    await log_in(client, card.user_number)


async def test_a_family_gets_one_email_with_each_current_number(
    client: Client, services: Services
) -> None:
    family = "yamada.family@example.org"
    mother = await make_patron(services, email=family)
    twin = await make_patron(services, email=family, given="太郎")
    father = await make_patron(services, email=family, given="一郎", birth_date=date(1960, 5, 5))
    async with services.db.transaction() as session:  # the twin lost a card: a new number
        old = await session.get(Card, twin.id)
        assert old is not None
        await revoke_card(session, old, RevocationReason.REISSUED, services.policy)
        new = await issue_card(session, twin.patron_id, services.policy)
    answer = await ask_number(client, family, "1990/4/1", page="/forgot-number?lang=en")
    assert answer.status_code == 303
    [mail] = await mails(services, "number_reminder")
    assert mail.language == "en"
    assert f"山田 花子: {mother.user_number}" in mail.body_text
    assert f"山田 太郎: {new.user_number}" in mail.body_text
    assert twin.user_number not in mail.body_text  # a revoked number is no number
    assert father.user_number not in mail.body_text  # another birth date


async def test_no_match_still_answers_the_same_and_says_so_to_the_address(
    client: Client, services: Services
) -> None:
    await make_patron(services)
    known = await ask_number(client, EMAIL, "1990-04-01")
    wrong_birth = await ask_number(client, EMAIL, "1991-04-01")
    unknown = await ask_number(client, "nobody@example.org", "1990-04-01")
    assert whole(known) == whole(wrong_birth) == whole(unknown)
    assert known.status_code == 303
    assert known.headers.get_list("set-cookie") == []
    first, second, third = await mails(services, "number_reminder")
    assert (first.to_address, second.to_address, third.to_address) == (
        EMAIL,
        EMAIL,
        "nobody@example.org",
    )
    assert "見つかりませんでした" not in first.body_text
    assert "見つかりませんでした" in second.body_text
    assert "見つかりませんでした" in third.body_text


async def test_known_and_unknown_take_the_same_time(client: Client, services: Services) -> None:
    await make_patron(services)
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    answers: dict[str, set[Whole]] = {"known": set(), "unknown": set()}
    for _ in range(3):
        for kind, email in (("known", EMAIL), ("unknown", "nobody@example.org")):
            form = await client.get("/forgot-number")
            started = time.perf_counter()
            response = await client.post(
                "/forgot-number",
                data={
                    "email": email,
                    "birth_date": "1990-04-01",
                    "_csrf_token": csrf_from(form.text),
                },
            )
            timings[kind].append(time.perf_counter() - started)
            answers[kind].add(whole(response))
    assert answers["known"] == answers["unknown"]
    assert len(answers["known"]) == 1
    for taken in timings.values():
        assert min(taken) >= ANSWER_SECONDS
    difference = abs(statistics.median(timings["known"]) - statistics.median(timings["unknown"]))
    assert difference < 0.1, timings


async def test_malformed_input_is_marked_and_kept(client: Client, services: Services) -> None:
    answer = await ask_number(client, "hanako@", "1990-02-30")
    assert answer.status_code == 400
    assert field_marked(answer.text, "email")
    assert field_marked(answer.text, "birth_date")
    assert 'value="hanako@"' in answer.text
    assert 'value="1990-02-30"' in answer.text
    assert "生年月日を正しい日付で入力してください" in answer.text
    english = await ask_number(client, "hanako@", "yesterday", page="/forgot-number?lang=en")
    assert "Enter an email address, for example hanako@example.jp." in english.text
    assert "Enter your date of birth as a real date" in english.text
    assert await mails(services, "number_reminder") == []


def _limited(settings: Settings, *, per_address: int, per_client: int) -> Settings:
    profile = settings.profile
    patrons = msgspec.structs.replace(
        profile.patrons,
        recovery_per_address_per_hour=per_address,
        recovery_per_client_per_hour=per_client,
    )
    return with_free_catcher_port(
        settings, profile=msgspec.structs.replace(profile, patrons=patrons)
    )


async def test_limits_per_address_and_per_client_say_nothing(services: Services) -> None:
    await make_patron(services)
    settings = _limited(services.settings, per_address=2, per_client=4)
    async with web_client(settings, mail=False) as client:
        answers = [
            await ask_number(client, "ＨＡＮＡＫＯ@example.org", "1990-04-01") for _ in range(3)
        ]
        assert len({whole(answer) for answer in answers}) == 1
        assert len(await mails(services, "number_reminder")) == 2  # the address's limit
        for other in ("a@example.org", "b@example.org"):
            assert whole(await ask_number(client, other, "1990-04-01")) == whole(answers[0])
        # Five requests from this client now: over its limit of four, for any address.
        assert len(await mails(services, "number_reminder")) == 3
        resets = await ask_reset(client, EMAIL)
        assert resets.status_code == 303
        assert await mails(services, "password_reset") == []


# --- forgotten password -------------------------------------------------------------------


def reset_path(body: str) -> str:
    return path_in(body, "/password/reset/")


async def test_reset_by_number_sets_a_new_password_and_ends_every_session(
    client: Client, services: Services, profile_name: str
) -> None:
    card = await make_patron(services)
    async with web_client(with_free_catcher_port(services.settings), mail=False) as phone:
        await log_in(phone, card.user_number, keep=True)
        login_page = await client.get("/login")
        assert 'href="/password/forgot"' in login_page.text
        answer = await ask_reset(client, card.user_number)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/password/forgot/sent"
        [mail] = await mails(services, "password_reset")
        assert mail.to_address == EMAIL
        link = reset_path(mail.body_text)
        for _ in range(2):  # showing the form uses nothing (mail scanners fetch links)
            form = await client.get(link)
            assert form.status_code == 200
            assert 'autocomplete="new-password"' in form.text
        note = "電子図書館サービスのパスワード"
        assert (note in form.text) is (profile_name == "kashiwa")
        done = await client.post(
            link,
            data={
                "new_password": NEW_PASSWORD,
                "new_password_again": NEW_PASSWORD,
                "_csrf_token": csrf_from(form.text),
            },
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/password/changed"
        changed = await client.get("/password/changed")
        assert "新しいパスワードを設定しました" in changed.text
        assert (await phone.get("/my")).status_code == 303  # its session ended
        phone.cookies.delete("session")
        assert (await phone.get("/my")).status_code == 303  # and its device
    assert await devices_of(services, card.patron_id) == []
    [notice] = await mails(services, "password_changed")
    assert notice.to_address == EMAIL
    assert (await post_login(client, card.user_number, PASSWORD)).status_code == 401
    await log_in(client, card.user_number, NEW_PASSWORD)
    used = await client.get(link)
    assert used.status_code == 400
    assert "このリンクはすでに使われています。" in used.text
    assert 'href="/password/forgot"' in used.text


async def test_the_new_password_follows_the_policy_and_the_link_survives_a_refusal(
    client: Client, services: Services, profile_name: str
) -> None:
    card = await make_patron(services)
    await ask_reset(client, "hanako@example.org")
    [mail] = await mails(services, "password_reset")
    link = reset_path(mail.body_text)
    form = await client.get(f"{link}?lang=en")
    weak = "password" if profile_name == "kashiwa" else "abcdefgh"
    refused = await client.post(
        link,
        data={
            "new_password": weak,
            "new_password_again": weak,
            "_csrf_token": csrf_from(form.text),
        },
    )
    assert refused.status_code == 400
    expected = "too common" if profile_name == "kashiwa" else "at least one digit"
    assert expected in refused.text
    assert field_marked(refused.text, "new_password")
    assert f'value="{weak}"' not in refused.text  # never typed back
    mismatch = await client.post(
        link,
        data={
            "new_password": NEW_PASSWORD,
            "new_password_again": PASSWORD,
            "_csrf_token": csrf_from(form.text),
        },
    )
    assert "The two new passwords are not the same." in mismatch.text
    assert field_marked(mismatch.text, "new_password_again")
    ok = await client.post(
        link,
        data={
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
            "_csrf_token": csrf_from(form.text),
        },
    )
    assert ok.status_code == 303
    await log_in(client, card.user_number, NEW_PASSWORD)


async def test_an_english_email_links_to_the_english_page_in_any_browser(
    client: Client, services: Services
) -> None:
    # Asked for in English; the link is opened on another device (a phone's mail app), a
    # browser with no language chosen: the page is in English, as the email was.
    await make_patron(services)
    assert (await ask_reset(client, EMAIL, page="/password/forgot?lang=en")).status_code == 303
    [mail] = await mails(services, "password_reset")
    assert mail.language == "en"
    link = reset_path(mail.body_text)
    assert link.endswith("?lang=en")
    assert f'href="https://cards.example.org{link}"' in mail.body_html
    async with web_client(with_free_catcher_port(services.settings), mail=False) as phone:
        page = await phone.get(link)
        assert page.status_code == 200
        assert '<html lang="en">' in page.text
        sent = await phone.post(
            link,
            data={
                "new_password": NEW_PASSWORD,
                "new_password_again": NEW_PASSWORD,
                "_csrf_token": csrf_from(page.text),
            },
        )
        assert (sent.status_code, sent.headers["location"]) == (303, "/password/changed")
    # A Japanese email's links stay as they were.
    await ask_reset(client, EMAIL, page="/password/forgot?lang=ja")
    japanese = [m for m in await mails(services, "password_reset") if m.language == "ja"]
    assert "?lang=" not in japanese[0].body_text


async def test_reset_links_expire(client: Client, services: Services) -> None:
    await make_patron(services)
    hours = services.settings.profile.patrons.reset_link_hours
    start = datetime(2027, 6, 1, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        await ask_reset(client, EMAIL)
        [mail] = await mails(services, "password_reset")
        assert f"{hours}時間" in mail.body_text
        link = reset_path(mail.body_text)
        traveller.shift(timedelta(hours=hours) - timedelta(seconds=1))
        assert (await client.get(link)).status_code == 200
        traveller.shift(timedelta(seconds=2))
        late = await client.get(link)
        assert late.status_code == 400
        assert "このリンクは有効期限が切れています。" in late.text
        assert "<code>link_expired</code>" in late.text
        assert 'href="/password/forgot"' in late.text
        english = await client.get(f"{link}?lang=en")
        assert "This link has expired." in english.text


async def test_a_link_dies_when_the_password_changes_another_way(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    await ask_reset(client, card.user_number)
    await ask_reset(client, EMAIL)
    first, second = await mails(services, "password_reset")
    link = reset_path(first.body_text)
    form = await client.get(link)
    await client.post(
        link,
        data={
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
            "_csrf_token": csrf_from(form.text),
        },
    )
    stale = await client.get(reset_path(second.body_text))
    assert stale.status_code == 400
    assert "<code>link_superseded</code>" in stale.text
    assert "パスワードが変更されたため" in stale.text


async def test_an_imported_patron_without_a_password_sets_one(
    client: Client, services: Services
) -> None:
    card = await make_patron(services, password=None, source=PatronSource.ILS)
    assert (await post_login(client, card.user_number, "")).status_code == 401
    await ask_reset(client, card.user_number)
    [mail] = await mails(services, "password_reset")
    link = reset_path(mail.body_text)
    form = await client.get(link)
    done = await client.post(
        link,
        data={
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
            "_csrf_token": csrf_from(form.text),
        },
    )
    assert done.status_code == 303
    assert (await patron(services, card.patron_id)).password_hash
    await log_in(client, card.user_number, NEW_PASSWORD)
    page = await client.get("/card")
    assert card.user_number in page.text


async def test_reset_answers_are_the_same_for_anyone(client: Client, services: Services) -> None:
    card = await make_patron(services)
    answers = [
        await ask_reset(client, card.user_number),
        await ask_reset(client, "9" * len(card.user_number)),
        await ask_reset(client, EMAIL),
        await ask_reset(client, "nobody@example.org"),
        await ask_reset(client, "not a number at all"),
    ]
    assert len({whole(answer) for answer in answers}) == 1
    assert answers[0].headers.get_list("set-cookie") == []
    assert len(await mails(services, "password_reset")) == 2
    async with services.db.transaction() as session:
        links = await session.scalar(select(func.count()).select_from(LinkToken))
    assert links == 2
    started = time.perf_counter()
    await ask_reset(client, "nobody@example.org")
    assert time.perf_counter() - started >= ANSWER_SECONDS


async def test_forgot_pages_speak_of_the_elibrary_only_where_it_applies(
    client: Client, services: Services, profile_name: str
) -> None:
    page = await client.get("/password/forgot")
    english = await client.get("/password/forgot?lang=en")
    assert 'href="/forgot-number"' in page.text
    if profile_name == "kashiwa":
        assert "柏市立図書館電子図書館サービスのパスワード" in page.text
        assert "also your password for the Kashiwa City Library e-library" in english.text
    else:
        assert "電子図書館" not in page.text
        assert "e-library" not in english.text
    empty = await client.post(
        "/password/forgot", data={"login": " ", "_csrf_token": csrf_from(page.text)}
    )
    assert empty.status_code == 400
    assert field_marked(empty.text, "login")


async def test_unknown_links_get_a_clear_page(client: Client) -> None:
    answer = await client.get("/password/reset/not-a-real-token")
    assert answer.status_code == 400
    assert "<code>link_unknown</code>" in answer.text
    assert 'href="/password/forgot"' in answer.text
    form = await client.get("/password/forgot")
    posted = await client.post(
        "/password/reset/not-a-real-token",
        data={
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
            "_csrf_token": csrf_from(form.text),
        },
    )
    assert posted.status_code == 400
    assert "<code>link_unknown</code>" in posted.text


# --- through a real SMTP server -----------------------------------------------------------


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def test_both_recoveries_through_a_real_mail_server(
    client: Client, services: Services, sink: SmtpSink, profile_name: str
) -> None:
    card = await make_patron(services)
    await ask_number(client, EMAIL, BIRTH.isoformat())
    await ask_reset(client, card.user_number)
    await relay_to(services, sink.port).run_once()
    by_subject = {str(m["Subject"]): m for m in sink.messages()}
    assert len(by_subject) == 2
    number = next(m for s, m in by_subject.items() if "利用者番号" in s)
    reset = next(m for s, m in by_subject.items() if "パスワード" in s)
    assert str(number["To"]) == EMAIL
    assert card.user_number in text_of(number)
    assert services.settings.profile.library.sender_email in str(number["From"])
    link = reset_path(text_of(reset))
    form = await client.get(link)
    done = await client.post(
        link,
        data={
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
            "_csrf_token": csrf_from(form.text),
        },
    )
    assert done.status_code == 303
    await log_in(client, card.user_number, NEW_PASSWORD)
