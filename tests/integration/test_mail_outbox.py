"""The outbox is written in the caller's transaction, on both engines."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cardservice.mail import (
    MailNotFailed,
    MailNotFound,
    MailStatus,
    OutboxRow,
    OutgoingMail,
    enqueue,
    failed_messages,
    retry_failed,
    template_dir,
)
from cardservice.mail.letterhead import Letterhead
from cardservice.mail.render import TEMPLATE_DIR_ENV
from cardservice.services import Services

CANCELLED = OutgoingMail(
    to_address="hanako@example.org",
    template="application_cancelled",
    language="ja",
    context={
        "name": "山田 花子",
        "procedure": "new",
        "answer_by": date(2026, 12, 1),
        "library": Letterhead(name="横浜市立みなと図書館", email="library@example.org"),
    },
)


class AbortError(Exception):
    """Raised inside a transaction to roll it back."""


async def _count(services: Services) -> int:
    async with services.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxRow)) or 0)


async def test_committed_change_leaves_its_mail(services: Services) -> None:
    async with services.db.transaction() as session:
        row = await enqueue(session, CANCELLED)
        assert row.id is not None
    async with services.db.transaction() as session:
        stored = await session.get(OutboxRow, row.id)
    assert stored is not None
    assert stored.status == MailStatus.PENDING
    assert stored.attempts == 0
    assert stored.to_address == "hanako@example.org"
    assert stored.subject == "【横浜市立みなと図書館】利用者登録の申請取り消しのお知らせ"
    assert "山田 花子 様" in stored.body_text
    assert "2026年12月1日までに、お問い合わせへのご回答を" in stored.body_html
    assert stored.next_attempt_at <= datetime.now(UTC)
    assert stored.sent_at is None


async def test_rolled_back_change_leaves_no_mail(services: Services) -> None:
    async def change_that_fails() -> None:
        async with services.db.transaction() as session:
            await enqueue(session, CANCELLED)
            raise AbortError

    with pytest.raises(AbortError):
        await change_that_fails()
    assert await _count(services) == 0


async def test_queued_mail_keeps_the_text_it_was_rendered_with(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(template_dir(), tmp_path / "templates")
    monkeypatch.setenv(TEMPLATE_DIR_ENV, str(tmp_path / "templates"))
    async with services.db.transaction() as session:
        row = await enqueue(session, CANCELLED)
    edited = tmp_path / "templates" / "email" / "application_cancelled.ja.txt"
    edited.write_text(
        "Subject: 新しい件名\n新しい本文 {{ name }} {{ answer_by }}\n", encoding="utf-8"
    )
    stat = edited.stat()
    os.utime(edited, (stat.st_atime + 10, stat.st_mtime + 10))  # past the reload check
    async with services.db.transaction() as session:
        newer = await enqueue(session, CANCELLED)
    async with services.db.transaction() as session:
        old = await session.get(OutboxRow, row.id)
        new = await session.get(OutboxRow, newer.id)
    assert old is not None
    assert new is not None
    assert old.subject == "【横浜市立みなと図書館】利用者登録の申請取り消しのお知らせ"
    assert new.subject == "【横浜市立みなと図書館】新しい件名"


async def test_retry_is_only_for_failed_mail(services: Services) -> None:
    async with services.db.transaction() as session:
        row = await enqueue(session, CANCELLED)
    async with services.db.transaction() as session:
        with pytest.raises(MailNotFailed) as not_failed:
            await retry_failed(session, row.id)
        with pytest.raises(MailNotFound) as not_found:
            await retry_failed(session, row.id + 1000)
        assert await failed_messages(session) == []
    assert not_failed.value.code == "mail_not_failed"
    assert not_found.value.code == "mail_not_found"
