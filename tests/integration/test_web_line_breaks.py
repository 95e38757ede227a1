"""Text of several lines, as a browser sends a textarea: every line break as CRLF (HTML's
form submission). A reviewer's question, a written rejection reason and the applicant's
answer each take it, and keep their lines as ``\\n`` in the record and the email. An
invisible character pasted with such a text is named as what it is; an emoji that a phone
writes with a zero-width joiner (🙇‍♀️) is no such character."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cardservice.registration.models import ApplicationStatus, Inquiry
from cardservice.services import Services
from tests.registration_flow import (
    ask,
    clock_at_friday,  # noqa: F401  # a fixture
    load,
    make_reviewer,
    outbox,
    submitted_application,
)
from tests.web_support import (
    Client,
    client_on_clock,  # noqa: F401  # a fixture
    csrf_from,
    login,
    make_staff,
)

QUESTION = ("保険証のうら面の写真もお送りください。", "住所欄が読み取れる明るさでお願いします。")
REASON = ("写真がぼやけていて、お名前が読み取れませんでした。", "もう一度お申し込みください。")
ANSWER = ("撮り直したものをお送りします。", "よろしくお願いします\U0001f647\u200d\u2640\ufe0f")


@pytest.fixture
def profile_name() -> str:
    return "yokohama"


async def as_reviewer(client: Client, services: Services, public_id: str, action: str,
                      **fields: str) -> int:  # fmt: skip
    """Post ``fields`` to the application's ``action`` with the page's CSRF token."""
    await make_staff(services, "sato")
    await login(client, "sato")
    url = f"/staff/applications/{public_id}"
    page = await client.get(url)
    done = await client.post(
        f"{url}/{action}", data={**fields, "_csrf_token": csrf_from(page.text)}
    )
    return done.status_code


async def test_a_question_of_two_lines(client: Client, services: Services) -> None:
    public_id = await submitted_application(services)
    status = await as_reviewer(
        client, services, public_id, "inquiry", question="\r\n".join(QUESTION)
    )
    assert status == 303
    (mail,) = await outbox(services, "inquiry")
    assert "\n".join(QUESTION) in mail.body_text
    assert "\r" not in mail.body_text
    assert (await load(services, public_id)).status == ApplicationStatus.INQUIRY


async def test_a_written_reason_of_two_lines(client: Client, services: Services) -> None:
    public_id = await submitted_application(services)
    status = await as_reviewer(
        client, services, public_id, "reject", template_id="", text="\r\n".join(REASON)
    )
    assert status == 303
    assert (await load(services, public_id)).decision_reason == "\n".join(REASON)
    (mail,) = await outbox(services, "application_rejected")
    assert "\n".join(REASON) in mail.body_text


async def test_an_answer_of_two_lines(client: Client, services: Services) -> None:
    public_id = await submitted_application(services)
    token = await ask(services, public_id, await make_reviewer(services))
    page = await client.get(f"/apply/answer/{token}")
    answered = await client.post(
        f"/apply/answer/{token}",
        data={"answer": "\r\n".join(ANSWER), "_csrf_token": csrf_from(page.text)},
    )
    assert (answered.status_code, answered.headers["location"]) == (303, "/apply/answered")
    async with services.db.transaction() as session:
        inquiry = await session.scalar(select(Inquiry))
    assert inquiry is not None
    assert inquiry.answer_text == "\n".join(ANSWER)


async def test_an_answer_with_an_invisible_character(client: Client, services: Services) -> None:
    public_id = await submitted_application(services)
    token = await ask(services, public_id, await make_reviewer(services))
    page = await client.get(f"/apply/answer/{token}")
    refused = await client.post(
        f"/apply/answer/{token}",
        data={"answer": "撮り直しました\u200b。", "_csrf_token": csrf_from(page.text)},
    )
    assert refused.status_code == 400
    assert "使用できない文字（制御文字など）が含まれています。" in refused.text
    assert "本文を入力してください" not in refused.text  # it was written, and short
    assert (await load(services, public_id)).status == ApplicationStatus.INQUIRY
    assert (await client.get(f"/apply/answer/{token}")).status_code == 200
