"""Staff mail (the dev catcher's inbox and the failed outbox) holds applicants' links and
personal data: every mail route, with every role, answers as the role allows."""

from __future__ import annotations

import pytest

from cardservice.mail.catcher import Received, store_caught
from cardservice.mail.models import MailStatus, OutboxRow
from cardservice.services import Services
from cardservice.staff.models import Role
from tests.web_support import form_token, login, make_staff, web_client, with_free_catcher_port

FORBIDDEN = "この操作を行う権限がありません。"
RAW = (
    b"From: lib@example.org\r\nTo: hanako@example.org\r\nSubject: Verify\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n\r\n"
    b'<a href="https://cards.example.org/apply/verify/linktoken">verify</a>\r\n'
)


async def _mail(services: Services) -> tuple[int, int]:
    """A caught message and a failed outbox message; their ids."""
    async with services.db.transaction() as session:
        caught = store_caught(session, Received("lib@example.org", ["hanako@example.org"], RAW))
        failed = OutboxRow(
            to_address="hanako@example.org",
            language="ja",
            template="verify_email",
            subject="s",
            body_text="https://cards.example.org/apply/verify/linktoken",
            body_html="",
            status=MailStatus.FAILED,
            attempts=5,
        )
        session.add(failed)
        await session.flush()
        return caught.id, failed.id


@pytest.mark.parametrize(
    ("role", "allowed"), [(Role.REVIEWER, True), (Role.ADMIN, True), (Role.COUNTER, False)]
)
async def test_every_staff_mail_route_by_role(
    services: Services, role: Role, *, allowed: bool
) -> None:
    caught, failed = await _mail(services)
    await make_staff(services, "staffer", role)
    async with web_client(with_free_catcher_port(services.settings), mail=False) as client:
        anonymous = [
            await client.get(path)
            for path in ("/staff/mail", f"/staff/mail/{caught}", "/staff/outbox/failed")
        ]
        assert [r.status_code for r in anonymous] == [303, 303, 303]
        await login(client, "staffer")
        home = await client.get("/staff")
        assert ('href="/staff/mail"' in home.text) is allowed
        assert ('href="/staff/outbox/failed"' in home.text) is allowed
        token = await form_token(client, "/staff")
        answers = {
            "list": await client.get("/staff/mail"),
            "detail": await client.get(f"/staff/mail/{caught}"),
            "html": await client.get(f"/staff/mail/{caught}/html"),
            "failed": await client.get("/staff/outbox/failed"),
            "retry": await client.post(
                f"/staff/outbox/{failed}/retry", data={"_csrf_token": token}
            ),
        }
    expected = {"list": 200, "detail": 200, "html": 200, "failed": 200, "retry": 303}
    if allowed:
        assert {k: r.status_code for k, r in answers.items()} == expected
        assert "linktoken" in answers["detail"].text
    else:
        assert {k: r.status_code for k, r in answers.items()} == dict.fromkeys(expected, 403)
        for response in answers.values():
            assert "linktoken" not in response.text
            assert "hanako@example.org" not in response.text
        assert FORBIDDEN in answers["list"].text
    async with services.db.transaction() as session:
        row = await session.get(OutboxRow, failed)
        assert row is not None
        assert row.status == (MailStatus.PENDING if allowed else MailStatus.FAILED)
