"""The document rules over HTTP, per profile, on both engines: nobody is left with a full
file allowance and a missing document.

Yokohama and the example library take at most 2 files: a worker is told up front which
identity documents fit with the workplace document, a health insurance card (two sides) is
refused at its first side with the ones that would fit, and photos crowding out the
workplace document are named. Kashiwa sets no count: both sides of a health insurance card
and the workplace document go in, and a driver's licence needs only its front (the back is
taken when it shows an address change). The applicant's own thumbnails are served to the
draft's session alone, never cached.
"""

from __future__ import annotations

import html
import io
import re

import pytest
from PIL import Image

from cardservice.registration.models import ApplicationDocument
from cardservice.services import Services
from tests.registration_flow import (
    FORMS,
    ask,
    count,
    friday_for_every_test,  # noqa: F401  # a fixture
    make_reviewer,
    photo,
    submitted_application,
)
from tests.web_apply_support import (
    agree,
    applicant_client,  # noqa: F401  # a fixture
    open_draft,
    post_form,
    upload,
)
from tests.web_support import Client, csrf_from, form_token, web_client, with_free_catcher_port

WORKS = {"basis": "works", "workplace_or_school": "市役所"}
CAPPED = pytest.mark.parametrize("profile_name", ["example", "yokohama"])


async def _draft(client: Client, services: Services, **changes: str) -> None:
    """A draft with consent and the form saved (the example library is in Yokohama)."""
    await open_draft(client, services)
    assert (await agree(client, services)).status_code == 303
    city = "kashiwa" if services.settings.profile.id == "kashiwa" else "yokohama"
    saved = await post_form(client, {**FORMS[city], **changes})
    assert saved.status_code == 303, saved.text


def _text(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:p|li)>', page, re.S)
    assert found is not None, f"no #{element_id} on the page"
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def _refusal(page: str) -> str:
    found = re.search(r'<p class="field-error" id="(?:file|side|doc_type)-error">([^<]*)</p>', page)
    assert found is not None, "no error next to the upload fields"
    return html.unescape(found.group(1))


async def _submits(client: Client) -> None:
    review = await client.get("/apply/review")
    assert 'id="missing"' not in review.text, review.text
    sent = await client.post("/apply/submit", data={"_csrf_token": csrf_from(review.text)})
    assert (sent.status_code, sent.headers["location"]) == (303, "/apply/done")


@CAPPED
async def test_a_worker_under_a_two_file_cap_gets_through(
    client: Client, services: Services
) -> None:
    await _draft(client, services, **WORKS)
    # Told up front what is needed and which identity documents fit.
    page = (await client.get("/apply/documents")).text
    assert "本人確認書類（下の一覧からいずれか1点" in _text(page, "need-identity")
    assert "勤務先・学校を確認できる書類" in _text(page, "need-extra")
    combinations = _text(page, "combinations")
    assert "2点まで" in combinations
    assert "マイナンバーカード（個人番号カード）、運転免許証" in combinations
    assert "健康保険証はおもて面とうら面の2点が必要" in combinations
    assert page.count('class="doc-unfit"') == 1  # the health insurance card's entry
    english = (await client.get("/apply/documents?lang=en")).text
    assert "Health insurance card needs front and back" in _text(english, "combinations")
    assert (await client.get("/apply/documents?lang=ja")).status_code == 200

    # A two-sided card is refused at its first side, naming what would fit.
    refused = await upload(client, "health_insurance", "front", photo())
    assert refused.status_code == 400
    message = _refusal(refused.text)
    assert "この書類（健康保険証）は2点の写真が必要で" in message
    assert "合わせると3点" in message
    assert "次のいずれかをご利用ください：マイナンバーカード（個人番号カード）、運転免許" in message
    assert '<option value="health_insurance" selected>' in refused.text  # the choice is kept
    assert await count(services, ApplicationDocument) == 0

    # Two identity documents crowd out the workplace one: the page names the one to remove.
    for kind in ("my_number", "drivers_license"):
        assert (await upload(client, kind, "front", photo())).status_code == 303
    page = (await client.get("/apply/documents")).text
    assert "運転免許証（おもて）を削除してください" in _text(page, "crowding")
    refused = await upload(client, "extra", "front", photo())
    assert refused.status_code == 400
    assert "先に「添付済みの書類」から運転免許証（おもて）を削除して" in _refusal(refused.text)
    token = await form_token(client, "/apply/documents")
    english = await client.post(
        "/apply/documents?lang=en",
        data={"doc_type": "extra", "side": "front", "_csrf_token": token},
        files={"file": ("id.jpg", photo(), "image/jpeg")},
    )
    assert "First remove Driver's license (front) under" in _refusal(english.text)
    assert (await client.get("/apply/documents?lang=ja")).status_code == 200
    document_id = re.findall(r'action="/apply/documents/(\d+)/delete"', page)[-1]
    removed = await client.post(
        f"/apply/documents/{document_id}/delete", data={"_csrf_token": csrf_from(page)}
    )
    assert removed.status_code == 303

    # What fits goes through, and the application can be submitted.
    assert (await upload(client, "extra", "front", photo())).status_code == 303
    page = (await client.get("/apply/documents")).text
    assert (
        _text(page, "need-identity")
        == "✓ 本人確認書類：マイナンバーカード（個人番号カード）（添付済み）"
    )
    assert 'id="all-attached"' in page
    await _submits(client)


@pytest.mark.parametrize("profile_name", ["kashiwa"])
async def test_kashiwa_takes_a_licence_front_and_both_sides_of_a_card(
    client: Client, services: Services
) -> None:
    await _draft(client, services, **WORKS)
    page = (await client.get("/apply/documents")).text
    assert 'id="combinations"' not in page  # no count to fit into
    assert "点まで" not in page
    assert "おもて面（うら面に住所変更などの記載がある場合は、うら面も）" in page
    # A driver's licence needs its front only.
    for slot in (("drivers_license", "front"), ("extra", "front")):
        assert (await upload(client, *slot, photo())).status_code == 303
    page = (await client.get("/apply/documents")).text
    assert _text(page, "need-identity") == "✓ 本人確認書類：運転免許証（添付済み）"
    review = await client.get("/apply/review")
    assert 'id="missing"' not in review.text
    # The back is taken when it matters; a My Number card's back never is.
    refused = await upload(client, "my_number", "back", photo())
    assert refused.status_code == 400
    assert "おもて面だけを添付してください" in _refusal(refused.text)
    # Both sides of a health insurance card go in beside the licence and the workplace one.
    for slot in (("drivers_license", "back"), ("health_insurance", "front")):
        assert (await upload(client, *slot, photo())).status_code == 303
    assert (await upload(client, "health_insurance", "back", photo())).status_code == 303
    assert await count(services, ApplicationDocument) == 5
    await _submits(client)


@pytest.mark.parametrize("profile_name", ["yokohama"])
async def test_an_answer_brings_the_photo_asked_for_whatever_the_count(
    client: Client, services: Services
) -> None:
    public_id = await submitted_application(services)  # both sides: the 2 files allowed
    question = "保険証の住所が読み取れません。運転免許証のおもて面をお送りください。"
    token = await ask(services, public_id, await make_reviewer(services), question)
    page = await client.get(f"/apply/answer/{token}")
    answered = await client.post(
        f"/apply/answer/{token}",
        data={"answer": "お送りします。", "doc_type": "drivers_license", "side": "front",
              "_csrf_token": csrf_from(page.text)},
        files={"file": ("licence.jpg", photo(), "image/jpeg")},
    )  # fmt: skip
    assert (answered.status_code, answered.headers["location"]) == (303, "/apply/answered")
    assert await count(services, ApplicationDocument) == 3


async def test_thumbnails_go_to_the_drafts_own_session_only(
    client: Client, services: Services
) -> None:
    await _draft(client, services)
    assert (await upload(client, "my_number", "front", photo(size=(1600, 1000)))).status_code == 303
    page = (await client.get("/apply/documents")).text
    found = re.search(r'<img class="thumb" src="(/apply/documents/(\d+)/image)"', page)
    assert found is not None, page
    image = await client.get(found.group(1))
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/jpeg"
    assert image.headers["cache-control"] == "no-store"
    with Image.open(io.BytesIO(image.content)) as preview:
        assert max(preview.size) == 320
    # Another applicant's session, with a draft of its own, and no session at all.
    async with web_client(with_free_catcher_port(services.settings), mail=False) as other:
        await open_draft(other, services, email="taro@example.org")
        assert (await other.get(found.group(1))).status_code == 404
        other.cookies.clear()
        assert (await other.get(found.group(1))).status_code == 404
    assert (await client.get("/apply/documents/99999999/image")).status_code == 404
