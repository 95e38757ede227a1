"""Emergency-closure notices over HTTP and as a job, on both engines: administrators only;
a form that marks errors and keeps what was typed; a preview in both languages with the
number of recipients; sending; batches with progress; two job runs at once deliver each
patron exactly once (counted in the outbox); one notice through a real SMTP server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from datetime import date
from html import unescape

import pytest
from httpx import Response
from sqlalchemy import func, select

from cardservice.cards.models import Card, RevocationReason
from cardservice.cards.service import revoke_card, set_suspended
from cardservice.jobs import run_jobs
from cardservice.mail.models import OutboxRow
from cardservice.notices import closures, routes
from cardservice.notices.models import Notice, NoticeDelivery
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.services import Services
from cardservice.staff.models import Role, StaffUser
from cardservice.staff.service import get_staff
from cardservice.web.i18n import translations
from tests.registration_flow import outbox
from tests.unit.mail.support import SmtpSink, free_port, relay_to
from tests.web_support import (
    Client,
    csrf_from,
    login,
    make_staff,
    web_client,
    with_free_catcher_port,
)

DRAFT = {
    "subject_ja": "台風のため臨時休館します",
    "body_ja": "本日10月1日は台風のため臨時休館します。\n返却は <ブックポスト> をご利用ください。",
    "subject_en": "Closed today because of the typhoon",
    "body_en": "The library is closed today, 1 October.\nPlease use the book drop & come again.",
}


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    settings = with_free_catcher_port(services.settings)
    async with web_client(settings, mail=False, jobs=False) as running:
        yield running


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def patron(
    services: Services, email: str, *, closure: bool = True, language: str = "ja"
) -> Card:
    async with services.db.transaction() as session:
        return await create_patron_with_card(
            session,
            NewPatron(
                family_name="山田",
                given_name="花子",
                family_kana="ヤマダ",
                given_kana="ハナコ",
                birth_date=date(1990, 4, 1),
                email=email,
                language=language,
                notifications={"expiry_near": False, "emergency_closure": closure},
            ),
            services.policy,
        )


async def town(services: Services) -> list[str]:
    """Three recipients (an English one, a suspended card among them) and two who are not:
    one did not opt in, one holds only a revoked card. Returns the recipients' addresses."""
    await patron(services, "ja@example.org")
    await patron(services, "en@example.org", language="en")
    suspended = await patron(services, "suspended@example.org")
    await patron(services, "quiet@example.org", closure=False)
    revoked = await patron(services, "gone@example.org")
    async with services.db.transaction() as session:
        stored = await session.get(Card, suspended.id)
        assert stored is not None
        set_suspended(stored, "reported_lost")
        stored = await session.get(Card, revoked.id)
        assert stored is not None
        await revoke_card(session, stored, RevocationReason.WITHDRAWN, services.policy)
    return ["en@example.org", "ja@example.org", "suspended@example.org"]


async def admin_client(client: Client, services: Services) -> StaffUser:
    staff = await make_staff(services, "kanri", Role.ADMIN, display_name="管理 太郎")
    await login(client, "kanri")
    return staff


async def post(
    client: Client, path: str, data: dict[str, str], *, form: str = "/staff/notices/new"
) -> Response:
    """Post ``data`` to ``path`` with the CSRF token of the form on ``form``."""
    page = await client.get(form)
    assert page.status_code == 200, page.text
    return await client.post(path, data={**data, "_csrf_token": csrf_from(page.text)})


async def count(services: Services, model: type[object]) -> int:
    async with services.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def the_notice(services: Services) -> Notice:
    async with services.db.transaction() as session:
        [notice] = list(await session.scalars(select(Notice)))
    return notice


async def test_only_administrators(client: Client, services: Services) -> None:
    assert (await client.get("/staff/notices")).headers["location"].startswith("/staff/login")
    await make_staff(services, "sato", Role.REVIEWER)
    await login(client, "sato")
    home = await client.get("/staff")
    assert 'href="/staff/notices"' not in home.text
    for path in ("/staff/notices", "/staff/notices/new"):
        refused = await client.get(path)
        assert refused.status_code == 403
        assert "臨時休館のお知らせを送信できるのは管理者だけです。" in refused.text
        assert "<code>staff_forbidden</code>" in refused.text
    token = csrf_from(home.text)
    sent = await client.post("/staff/notices", data={**DRAFT, "_csrf_token": token})
    assert sent.status_code == 403
    assert await count(services, Notice) == 0


async def test_bad_input_marks_the_fields_and_keeps_the_text(
    client: Client, services: Services
) -> None:
    await admin_client(client, services)
    home = await client.get("/staff")
    assert 'href="/staff/notices"' in home.text
    listing = await client.get("/staff/notices")
    assert 'href="/staff/notices/new"' in listing.text

    typed = {**DRAFT, "subject_en": "   ", "body_ja": "x" * (closures.BODY_MAX + 1)}
    answer = await post(client, "/staff/notices/preview", typed)
    assert answer.status_code == 400
    page = answer.text
    assert "英語の件名を入力してください。" in page
    assert f"本文は{closures.BODY_MAX}文字以内で入力してください。" in page
    assert re.search(r'id="subject_en"[^>]*aria-invalid="true"', page)
    assert re.search(r'id="body_ja"[^>]*aria-invalid="true"', page)
    assert not re.search(r'id="subject_ja"[^>]*aria-invalid', page)
    assert 'value="台風のため臨時休館します"' in page  # kept as typed
    assert (
        "The library is closed today, 1 October.\nPlease use the book drop &amp; come again."
        in page
    )

    english = await client.post(
        "/staff/notices/preview?lang=en", data={"_csrf_token": csrf_from(page)}
    )
    assert english.status_code == 400
    assert "Write the subject in Japanese." in english.text
    assert "Write the text in English." in english.text
    # Sending straight away is checked the same way, and makes nothing.
    sent = await client.post("/staff/notices", data={**typed, "_csrf_token": csrf_from(page)})
    assert sent.status_code == 400
    assert await count(services, Notice) == 0


async def test_invisible_characters_are_refused_by_their_field(
    client: Client, services: Services
) -> None:
    # A bidi override would turn what patrons read around; a zero-width space hides in it.
    await admin_client(client, services)
    typed = {**DRAFT, "subject_en": "Closed \u202egnp.exe", "body_ja": "本日は\u200b休館します。"}
    answer = await post(client, "/staff/notices/preview?lang=en", typed)
    assert answer.status_code == 400
    page = answer.text
    assert page.count("This contains characters that cannot be used (control characters).") == 2
    assert re.search(r'id="subject_en"[^>]*aria-invalid="true"', page)
    assert re.search(r'id="body_ja"[^>]*aria-invalid="true"', page)
    assert not re.search(r'id="subject_ja"[^>]*aria-invalid', page)
    japanese = await post(client, "/staff/notices/preview?lang=ja", typed)
    assert "使用できない文字（制御文字など）が含まれています。" in japanese.text
    sent = await post(client, "/staff/notices", typed)
    assert sent.status_code == 400
    assert await count(services, Notice) == 0


async def test_preview_then_send(client: Client, services: Services) -> None:
    recipients = await town(services)
    await admin_client(client, services)
    preview = await post(client, "/staff/notices/preview", DRAFT)
    assert preview.status_code == 200
    page = preview.text
    assert "3人の利用者に送信します。" in page
    assert "【横浜市立みなと図書館】台風のため臨時休館します" in page
    assert "[Yokohama Minato Library] Closed today because of the typhoon" in page
    assert "返却は &lt;ブックポスト&gt; をご利用ください。" in page
    assert "<ブックポスト>" not in page
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    carried = {name: unescape(value) for name, value in hidden.items() if name != "_csrf_token"}
    assert carried == DRAFT
    assert await count(services, Notice) == 0  # a preview sends nothing

    back = await client.post("/staff/notices/new", data={**DRAFT, "_csrf_token": csrf_from(page)})
    assert back.status_code == 200
    assert 'value="Closed today because of the typhoon"' in back.text

    sent = await client.post("/staff/notices", data={**DRAFT, "_csrf_token": csrf_from(page)})
    assert sent.status_code == 303
    notice = await the_notice(services)
    assert sent.headers["location"] == f"/staff/notices/{notice.id}"
    # The test client waits for the delivery the send started once it had answered.
    assert (notice.recipients, notice.queued) == (3, 3)
    assert notice.finished_at is not None
    mails = await outbox(services, "emergency_closure")
    assert sorted(m.to_address for m in mails) == recipients
    by_address = {m.to_address: m for m in mails}
    assert by_address["en@example.org"].subject.endswith("Closed today because of the typhoon")
    assert by_address["ja@example.org"].language == "ja"
    assert DRAFT["body_ja"] in by_address["ja@example.org"].body_text

    done = await client.get(sent.headers["location"])
    assert done.status_code == 200
    # Japanese closes up: the time in full-width parentheses, no space after the sentence.
    assert "完了：3通のメールを送信待ちにしました<span" in done.text
    assert '<span class="meta">（<time' in done.text
    assert "Refresh" not in done.headers
    listing = await client.get("/staff/notices")
    assert f'href="/staff/notices/{notice.id}"' in listing.text
    # The list line's parts: 「、」 in Japanese, " · " in English, never a bare middle dot.
    assert "</time>、完了：3通" in listing.text
    assert "·" not in listing.text
    english = await client.get("/staff/notices?lang=en")
    assert "</time> · Done: 3 emails queued" in english.text

    # A second click on "send" is the same notice, not a second one.
    again = await client.post("/staff/notices", data={**DRAFT, "_csrf_token": csrf_from(page)})
    assert again.headers["location"] == f"/staff/notices/{notice.id}"
    assert await count(services, Notice) == 1
    assert len(await outbox(services, "emergency_closure")) == 3


async def test_batches_show_progress_until_done(client: Client, services: Services) -> None:
    for i in range(7):
        await patron(services, f"p{i}@example.org")
    staff = await admin_client(client, services)
    profile = services.settings.profile
    draft = closures.parse_draft(DRAFT)
    async with services.db.transaction() as session:
        notice, created = await closures.create_notice(session, draft, staff)
    assert created
    path = f"/staff/notices/{notice.id}"

    waiting = await client.get(path)
    assert waiting.headers["Refresh"] == "5"
    assert "送信中：7通のうち0通を送信待ちにしました" in waiting.text
    assert f'<a href="{path}">' in waiting.text
    assert f'秒ごとに更新されます。<a href="{path}">' in waiting.text  # no space after 。

    queued = []
    while True:
        async with services.db.transaction() as session:
            batch = await closures.deliver_batch(session, notice, profile, batch_size=3)
        if batch is None:
            break
        queued.append(batch)
        progress = await client.get(f"{path}?lang=en")
        assert f"Sending: {sum(queued)} of 7 queued" in progress.text
    assert queued == [3, 3, 1]
    finished = await client.get(path)
    assert "Refresh" not in finished.headers
    assert "Done: 7 emails queued" in finished.text
    assert (await client.get("/staff/notices/999999999999")).status_code == 404


async def test_two_job_runs_at_once_send_each_patron_once(services: Services) -> None:
    addresses = [f"p{i}@example.org" for i in range(9)]
    for address in addresses:
        await patron(services, address)
    staff = await make_staff(services, "kanri", Role.ADMIN)
    async with services.db.transaction() as session:
        notice, _ = await closures.create_notice(session, closures.parse_draft(DRAFT), staff)
    profile = services.settings.profile
    other = Services.build(services.settings)  # a second process: its own engine
    try:
        counts = await asyncio.gather(
            closures.deliver_pending_notices(services.db, profile, batch_size=2),
            closures.deliver_pending_notices(other.db, profile, batch_size=2),
            closures.deliver_pending_notices(other.db, profile, batch_size=4),
        )
    finally:
        await other.close()
    assert sum(counts) == 9
    mails = await outbox(services, "emergency_closure")
    assert sorted(m.to_address for m in mails) == addresses
    assert await count(services, NoticeDelivery) == 9
    done = await the_notice(services)
    assert (done.queued, done.recipients) == (9, 9)
    assert done.finished_at is not None
    # The scheduled jobs find nothing more to do.
    report = await run_jobs(services.db, profile)
    assert report.notice_emails == 0
    assert await count(services, OutboxRow) == 9
    assert notice.id == done.id


async def test_a_notice_nobody_gets_is_done_at_once(services: Services) -> None:
    await patron(services, "quiet@example.org", closure=False)
    staff = await make_staff(services, "kanri", Role.ADMIN)
    async with services.db.transaction() as session:
        notice, _ = await closures.create_notice(session, closures.parse_draft(DRAFT), staff)
        staff_row = await get_staff(session, "kanri")
    assert (notice.recipients, notice.queued) == (0, 0)
    assert notice.finished_at is not None
    assert staff_row.id == notice.created_by


async def test_the_notice_through_a_real_smtp_server(
    client: Client, services: Services, sink: SmtpSink
) -> None:
    await patron(services, "en@example.org", language="en")
    await admin_client(client, services)
    sent = await post(client, "/staff/notices", DRAFT)
    assert sent.status_code == 303
    await relay_to(services, sink.port).run_once()
    [message] = sink.messages()
    assert message["To"] == "en@example.org"
    assert message["Subject"] == "[Yokohama Minato Library] Closed today because of the typhoon"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert DRAFT["body_en"] in str(text.get_content()).replace("\r\n", "\n")
    assert (
        "The library is closed today, 1 October.<br>\nPlease use the book drop &amp; come again."
        in str(html.get_content()).replace("\r\n", "\n")
    )


def test_the_pages_errors_are_the_errors_own_and_translated() -> None:
    errors = [routes.NoticesAdminOnly().message, closures.NoticeNotFound().message]
    assert errors == list(routes.ERROR_MESSAGES)
    for message in [
        *routes.ERROR_MESSAGES,
        *routes.FIELD_ERRORS.values(),
        *routes.TOO_LONG.values(),
    ]:
        assert translations("ja").gettext(message) != message
