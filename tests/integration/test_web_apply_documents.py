"""Identity documents over HTTP, on both engines and both shipped profiles: every file the
service refuses is refused by its content with its own message in the page's language, and
leaves nothing half-made in the database; and the answer link for a staff question."""

from __future__ import annotations

import re

from sqlalchemy import select

from cardservice.registration.documents import MY_NUMBER_BACK_WARNING
from cardservice.registration.models import ApplicationDocument, ApplicationStatus, Inquiry
from cardservice.services import Services
from tests.registration_flow import (
    QUESTION,
    ask,
    both_profiles,  # noqa: F401  # a fixture
    count,
    fake_pdf,
    friday_for_every_test,  # noqa: F401  # a fixture
    load,
    make_reviewer,
    photo,
    submitted_application,
)
from tests.web_apply_support import (
    applicant_client,  # noqa: F401  # a fixture
    draft_with_form,  # noqa: F401  # a fixture
    pixel_bomb_png,
    png_photo,
    psd_header,
    upload,
)
from tests.web_support import Client, csrf_from


def file_error(html: str) -> str:
    found = re.search(r'<p class="field-error" id="(?:file|side|doc_type)-error">([^<]*)</p>', html)
    assert found is not None, "no error next to the upload fields"
    return found.group(1)


async def _refused(
    client: Client, services: Services, *args: object, **kwargs: object
) -> tuple[str, str]:
    """Upload, expect a refusal that changed nothing; the message and the page."""
    before = await count(services, ApplicationDocument)
    response = await upload(client, *args, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 400, response.text
    assert 'class="error-summary"' in response.text
    assert await count(services, ApplicationDocument) == before
    return file_error(response.text), response.text


async def test_the_page_shows_the_rules(draft: Client, services: Services) -> None:
    page = await draft.get("/apply/documents")
    assert page.status_code == 200
    documents = services.settings.profile.documents
    assert MY_NUMBER_BACK_WARNING["ja"] in page.text
    assert 'aria-describedby="file-warning"' in page.text
    assert f"{documents.max_bytes / 1_000_000:g}MBまで" in page.text
    if documents.max_files is not None:
        assert f"合計{documents.max_files}点まで" in page.text
    else:  # Kashiwa's seed sets no count
        assert "点まで" not in page.text
    assert "現住所が記載されていない書類はご利用いただけません" in page.text
    for kind in documents.types:
        assert kind.name.ja in page.text
        if kind.note is not None:
            assert kind.note.ja in page.text
    english = await draft.get("/apply/documents?lang=en")
    assert MY_NUMBER_BACK_WARNING["en"] in english.text
    # The side's choices are labels on their own: capitalised in English, as in Japanese.
    assert re.search(r'value="front"[^>]*>\s*<span>Front</span>', english.text)
    assert re.search(r'value="back"[^>]*>\s*<span>Back</span>', english.text)
    assert re.search(r'value="front"[^>]*>\s*<span>おもて</span>', page.text)
    assert 'value="extra"' not in page.text  # "lives": no workplace document


async def test_a_pdf_named_png_is_refused_by_its_content(draft: Client, services: Services) -> None:
    message, _ = await _refused(
        draft, services, "my_number", "front", fake_pdf(), filename="card.png",
        content_type="image/png",
    )  # fmt: skip
    assert "card.png" in message
    assert "画像として読み取れません" in message


async def test_a_photoshop_file_is_refused(draft: Client, services: Services) -> None:
    message, _ = await _refused(
        draft, services, "my_number", "front", psd_header(), filename="card.psd",
        content_type="image/vnd.adobe.photoshop",
    )  # fmt: skip
    assert "画像として読み取れません" in message


async def test_a_truncated_jpeg_is_refused(draft: Client, services: Services) -> None:
    whole = photo()
    message, _ = await _refused(draft, services, "my_number", "front", whole[: len(whole) // 2])
    assert "壊れているか、途中までしかありません" in message


async def test_a_decompression_bomb_is_refused(draft: Client, services: Services) -> None:
    message, _ = await _refused(
        draft, services, "my_number", "front", pixel_bomb_png(), filename="bomb.png",
        content_type="image/png",
    )  # fmt: skip
    assert "画素数が多すぎます" in message


async def test_an_oversized_file_is_refused_with_its_limit(
    draft: Client, services: Services
) -> None:
    limit = services.settings.profile.documents.max_bytes  # Kashiwa's is over Litestar's default
    message, _ = await _refused(draft, services, "my_number", "front", b"\xff" * (limit + 1))
    assert f"上限{limit / 1_000_000:g}MB" in message
    assert "窓口" in message


async def test_a_body_past_the_upload_limit_gets_the_same_message(
    draft: Client, services: Services
) -> None:
    before = await count(services, ApplicationDocument)
    token = csrf_from((await draft.get("/apply/documents")).text)
    response = await draft.post(
        "/apply/documents?lang=en",
        data={"doc_type": "my_number", "side": "front", "_csrf_token": token},
        files={"file": ("huge.jpg", b"\xff" * 52_000_000, "image/jpeg")},
    )
    assert response.status_code == 413
    assert "The file is too large" in response.text
    assert 'href="/apply/documents"' in response.text
    assert await count(services, ApplicationDocument) == before


async def test_a_third_file_is_refused_when_two_are_allowed(
    draft: Client, services: Services
) -> None:
    for side in ("front", "back"):
        assert (await upload(draft, "health_insurance", side, photo())).status_code == 303
    if services.settings.profile.documents.max_files is None:  # Kashiwa counts no files
        assert (await upload(draft, "my_number", "front", photo())).status_code == 303
        assert await count(services, ApplicationDocument) == 3
        return
    assert services.settings.profile.documents.max_files == 2
    message, _ = await _refused(draft, services, "my_number", "front", photo())
    assert (
        "2点までです。先に「添付済みの書類」から健康保険証（おもて）、健康保険証（うら）を削除"
        in message
    )
    # A retaken photo replaces its slot instead of counting as a third file.
    assert (await upload(draft, "health_insurance", "back", png_photo())).status_code == 303
    assert await count(services, ApplicationDocument) == 2


async def test_the_back_of_a_my_number_card_is_refused(draft: Client, services: Services) -> None:
    message, page = await _refused(draft, services, "my_number", "back", photo())
    assert "おもて面だけを添付してください" in message
    assert 'aria-describedby="side-error"' in page
    token = csrf_from((await draft.get("/apply/documents")).text)
    response = await draft.post(
        "/apply/documents?lang=en",
        data={"doc_type": "my_number", "side": "back", "_csrf_token": token},
        files={"file": ("b.jpg", photo(), "image/jpeg")},
    )
    assert "Attach the front of this document only." in file_error(response.text)


async def test_no_file_chosen(draft: Client, services: Services) -> None:
    token = csrf_from((await draft.get("/apply/documents")).text)
    response = await draft.post(
        "/apply/documents",
        data={"doc_type": "my_number", "side": "front", "_csrf_token": token},
        files={"file": ("", b"", "application/octet-stream")},
    )
    assert response.status_code == 400
    assert "ファイルを選んでください" in file_error(response.text)


async def test_a_document_is_listed_and_removed(draft: Client, services: Services) -> None:
    assert (await upload(draft, "my_number", "front", png_photo())).status_code == 303
    page = await draft.get("/apply/documents")
    assert "320 × 200" in page.text
    found = re.search(r'action="/apply/documents/(\d+)/delete"', page.text)
    assert found is not None
    removed = await draft.post(
        f"/apply/documents/{found.group(1)}/delete", data={"_csrf_token": csrf_from(page.text)}
    )
    assert (removed.status_code, removed.headers["location"]) == (303, "/apply/documents")
    assert await count(services, ApplicationDocument) == 0


async def test_the_answer_link_takes_an_answer_and_a_new_photo(
    client: Client, services: Services
) -> None:
    public_id = await submitted_application(services)
    token = await ask(services, public_id, await make_reviewer(services))
    page = await client.get(f"/apply/answer/{token}")
    assert page.status_code == 200
    assert QUESTION in page.text
    assert "2026年4月17日（金）までにご回答ください" in page.text
    assert 'enctype="multipart/form-data"' in page.text
    # The answer's photo replaces one: the count of files is not among its rules.
    assert "MBまで" in page.text
    assert "点まで" not in page.text

    refused = await client.post(
        f"/apply/answer/{token}",
        data={"answer": "撮り直しました。", "doc_type": "health_insurance", "side": "back",
              "_csrf_token": csrf_from(page.text)},
        files={"file": ("back.jpg", fake_pdf(), "image/jpeg")},
    )  # fmt: skip
    assert refused.status_code == 400
    assert "画像として読み取れません" in file_error(refused.text)
    assert "撮り直しました。" in refused.text  # the answer is kept
    assert (await load(services, public_id)).status == ApplicationStatus.INQUIRY

    answered = await client.post(
        f"/apply/answer/{token}",
        data={"answer": "撮り直しました。", "doc_type": "health_insurance", "side": "back",
              "_csrf_token": csrf_from(refused.text)},
        files={"file": ("back.png", png_photo(), "image/png")},
    )  # fmt: skip
    assert (answered.status_code, answered.headers["location"]) == (303, "/apply/answered")
    thanks = await client.get("/apply/answered")
    assert "ご回答ありがとうございました" in thanks.text
    assert (await load(services, public_id)).status == ApplicationStatus.SUBMITTED
    async with services.db.transaction() as session:
        inquiry = await session.scalar(select(Inquiry))
    assert inquiry is not None
    assert inquiry.answer_text == "撮り直しました。"
    sizes = {(d.doc_type, d.side, d.width) for d in await _documents(services)}
    assert ("health_insurance", "back", 320) in sizes  # the new photo replaced the old

    used = await client.get(f"/apply/answer/{token}")
    assert used.status_code == 400
    assert "<code>link_used</code>" in used.text


async def test_an_empty_answer_is_refused_and_the_link_still_works(
    client: Client, services: Services
) -> None:
    token = await ask(
        services, await submitted_application(services), await make_reviewer(services)
    )
    page = await client.get(f"/apply/answer/{token}")
    empty = await client.post(
        f"/apply/answer/{token}", data={"answer": " ", "_csrf_token": csrf_from(page.text)}
    )
    assert empty.status_code == 400
    assert "本文を入力してください" in empty.text
    assert (await client.get(f"/apply/answer/{token}")).status_code == 200


async def _documents(services: Services) -> list[ApplicationDocument]:
    async with services.db.transaction() as session:
        return list(await session.scalars(select(ApplicationDocument)))
