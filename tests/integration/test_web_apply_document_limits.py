"""Uploads over HTTP, on both engines and both shipped profiles: the back of a My Number Card
is refused in every slot, images too large once decoded or damaged in any PNG chunk are
refused, a file part without a name gets a field error on the page, and one application
cannot send images without end. Every refusal leaves nothing stored."""

from __future__ import annotations

import logging
import re

import pytest

from cardservice.registration.document_rules import EXTRA_DOCUMENT
from cardservice.registration.models import ApplicationDocument
from cardservice.registration.storage import UPLOADS_PER_HOUR
from cardservice.services import Services
from tests.id_images import (
    datamatrix_photo,
    individual_number,
    phone_photo,
    png_chunk,
    tall_sixteen_bit_png,
    wrong_check_digit,
)
from tests.registration_flow import (
    ask,
    both_profiles,  # noqa: F401  # a fixture
    count,
    fake_pdf,
    friday_for_every_test,  # noqa: F401  # a fixture
    make_reviewer,
    photo,
)
from tests.registration_flow import submitted_application as submitted
from tests.web_apply_support import (
    applicant_client,  # noqa: F401  # a fixture
    draft_with_form,  # noqa: F401  # a fixture
    png_photo,
    upload,
)
from tests.web_support import Client, csrf_from

NUMBER = individual_number("31415926535")
BACK_OF_CARD = "個人番号（マイナンバー）が写っています"


def file_error(html: str) -> str:
    found = re.search(r'<p class="field-error" id="file-error">([^<]*)</p>', html)
    assert found is not None, "no error next to the file field"
    return found.group(1)


def _slots(services: Services) -> list[tuple[str, str]]:
    """Every slot the profile has: each type's sides, and the extra document."""
    slots = [(EXTRA_DOCUMENT, "front")]
    for kind in services.settings.profile.documents.types:
        sides = ["front"] if kind.sides == "front" else ["front", "back"]
        slots += [(kind.id, side) for side in sides]
    return slots


async def test_the_back_of_a_my_number_card_is_refused_in_every_slot(
    draft: Client, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    back = phone_photo(NUMBER, angle=30)  # 4032 x 3024, the QR code turned in a corner
    slots = _slots(services)
    assert len(slots) >= 5
    for doc_type, side in slots:
        response = await upload(draft, doc_type, side, back, filename="IMG_0001.jpg")
        assert response.status_code == 400, (doc_type, side)
        assert BACK_OF_CARD in file_error(response.text)
        assert "保存せずに破棄しました" in file_error(response.text)
    assert await count(services, ApplicationDocument) == 0
    token = csrf_from((await draft.get("/apply/documents")).text)
    english = await draft.post(
        "/apply/documents?lang=en",
        data={"doc_type": "drivers_license", "side": "front", "_csrf_token": token},
        files={"file": ("IMG_0001.jpg", back, "image/jpeg")},
    )
    assert "shows an Individual Number" in file_error(english.text)
    refusals = [r for r in caplog.records if "Individual Number" in r.getMessage()]
    assert len(refusals) == len(slots) + 1
    assert NUMBER not in caplog.text
    assert await count(services, ApplicationDocument) == 0


async def test_the_number_in_a_data_matrix_or_written_in_groups_is_refused(
    draft: Client, services: Services
) -> None:
    # 1234 5678 901 has the check digit 8; as a Data Matrix, and as a QR code written the ways
    # the number is printed and typed (spaces, hyphens, full-width spaces), in two slots.
    photos = [
        datamatrix_photo("123456789018", angle=20),
        phone_photo("1234 5678 9018", angle=30),
        phone_photo("1234-5678-9018", angle=30),
        phone_photo("1234\u30005678\u30009018", angle=30),
    ]
    for doc_type in ("health_insurance", EXTRA_DOCUMENT):
        for back in photos:
            response = await upload(draft, doc_type, "front", back, filename="IMG_0002.jpg")
            assert response.status_code == 400, doc_type
            assert BACK_OF_CARD in file_error(response.text)
    assert await count(services, ApplicationDocument) == 0
    # A longer number in groups is ordinary text, kept.
    kept = await upload(draft, "health_insurance", "front", phone_photo("1234 5678 9018 7777"))
    assert kept.status_code == 303, kept.text
    assert await count(services, ApplicationDocument) == 1


async def test_a_twelve_digit_code_with_a_wrong_check_digit_is_kept(
    draft: Client, services: Services
) -> None:
    front = phone_photo(wrong_check_digit(NUMBER), angle=30)
    response = await upload(draft, "health_insurance", "front", front)
    assert response.status_code == 303, response.text
    page = await draft.get("/apply/documents")
    assert "2000 × 1500" in page.text  # stored at 2,000 px on the long side
    assert await count(services, ApplicationDocument) == 1


async def test_the_back_of_the_card_is_refused_with_an_answer_too(
    client: Client, services: Services
) -> None:
    token = await ask(services, await submitted(services), await make_reviewer(services))
    page = await client.get(f"/apply/answer/{token}")
    before = await count(services, ApplicationDocument)
    refused = await client.post(
        f"/apply/answer/{token}",
        data={"answer": "撮り直しました。", "doc_type": "health_insurance", "side": "front",
              "_csrf_token": csrf_from(page.text)},
        files={"file": ("back.jpg", phone_photo(NUMBER, angle=30), "image/jpeg")},
    )  # fmt: skip
    assert refused.status_code == 400
    assert BACK_OF_CARD in file_error(refused.text)
    assert "撮り直しました。" in refused.text
    assert await count(services, ApplicationDocument) == before


async def test_a_png_too_large_once_decoded_is_refused(draft: Client, services: Services) -> None:
    response = await upload(
        draft, "my_number", "front", tall_sixteen_bit_png(), filename="tall.png",
        content_type="image/png",
    )  # fmt: skip
    assert response.status_code == 400
    assert "展開すると大きすぎます" in file_error(response.text)
    assert await count(services, ApplicationDocument) == 0


@pytest.mark.parametrize("kind", [b"IHDR", b"IDAT", b"IEND"])
async def test_a_png_with_a_bad_chunk_crc_is_refused(
    draft: Client, services: Services, kind: bytes
) -> None:
    data = png_photo()
    offset = 8
    while data[offset + 4 : offset + 8] != kind:
        offset += 12 + int.from_bytes(data[offset : offset + 4], "big")
    end = offset + 8 + int.from_bytes(data[offset : offset + 4], "big")
    spoiled = data[:end] + bytes([data[end] ^ 1]) + data[end + 1 :]
    assert png_chunk(b"IEND", b"") in data
    response = await upload(
        draft, "my_number", "front", spoiled, filename="scan.png", content_type="image/png"
    )
    assert response.status_code == 400
    assert "壊れているか" in file_error(response.text)
    assert await count(services, ApplicationDocument) == 0


def _multipart(token: str, disposition: str, body: bytes) -> bytes:
    return (
        b'--XX\r\nContent-Disposition: form-data; name="_csrf_token"\r\n\r\n'
        + token.encode()
        + b'\r\n--XX\r\nContent-Disposition: form-data; name="doc_type"\r\n\r\nmy_number'
        + b"\r\n--XX\r\nContent-Disposition: "
        + disposition.encode()
        + b"\r\nContent-Type: image/jpeg\r\n\r\n"
        + body
        + b"\r\n--XX--\r\n"
    )


@pytest.mark.parametrize(
    "disposition",
    ['form-data; name="file"', 'form-data; name="file"; filename=""'],
    ids=["no-filename", "empty-filename"],
)
@pytest.mark.parametrize(
    ("body", "status"),
    [(photo(), 303), (b"just text", 400)],
    ids=["jpeg-bytes", "text-bytes"],
)
async def test_a_file_part_without_a_name_gets_a_field_error(
    draft: Client, services: Services, disposition: str, body: bytes, status: int
) -> None:
    token = csrf_from((await draft.get("/apply/documents")).text)
    response = await draft.post(
        "/apply/documents",
        content=_multipart(token, disposition, body),
        headers={"content-type": "multipart/form-data; boundary=XX"},
    )
    assert response.status_code == status
    if status == 303:  # bytes that are not text: the form cannot be read, the page says why
        assert response.headers["location"] == "/apply/documents?upload=unnamed"
        response = await draft.get(response.headers["location"])
        assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "ファイル名なしで送られました" in file_error(response.text)
    english = await draft.get("/apply/documents?upload=unnamed&lang=en")
    assert "without a file name" in file_error(english.text)
    assert await count(services, ApplicationDocument) == 0


async def test_uploads_are_limited_per_application(draft: Client, services: Services) -> None:
    for _ in range(UPLOADS_PER_HOUR):  # refused ones count too
        response = await upload(draft, "my_number", "front", fake_pdf(), filename="a.png")
        assert "画像として読み取れません" in file_error(response.text)
    limited = await upload(draft, "my_number", "front", photo())
    assert limited.status_code == 400
    assert f"1時間に{UPLOADS_PER_HOUR}点まで" in file_error(limited.text)
    assert await count(services, ApplicationDocument) == 0


async def test_a_nameless_file_part_with_an_answer_gets_a_field_error(
    client: Client, services: Services
) -> None:
    token = await ask(services, await submitted(services), await make_reviewer(services))
    page = await client.get(f"/apply/answer/{token}")
    before = await count(services, ApplicationDocument)
    body = (
        b'--XX\r\nContent-Disposition: form-data; name="_csrf_token"\r\n\r\n'
        + csrf_from(page.text).encode()
        + b'\r\n--XX\r\nContent-Disposition: form-data; name="file"\r\n\r\n'
        + photo()
        + b"\r\n--XX--\r\n"
    )
    response = await client.post(
        f"/apply/answer/{token}",
        content=body,
        headers={"content-type": "multipart/form-data; boundary=XX"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/apply/answer/{token}?upload=unnamed"
    shown = await client.get(response.headers["location"])
    assert "ファイル名なしで送られました" in file_error(shown.text)
    assert await count(services, ApplicationDocument) == before
    assert (await client.get(f"/apply/answer/{token}")).status_code == 200  # the link still works
