"""The applicant's side on both engines and both shipped profiles: link, draft, consent,
form, documents, and a submission that happens once however often it is sent."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import date, timedelta

import pytest
import time_machine
from PIL import Image
from sqlalchemy import select

from cardservice.registration import applicant
from cardservice.registration.documents import DocumentRejected
from cardservice.registration.errors import (
    ApplicationIncomplete,
    ApplicationNotEditable,
    ConsentVersionInvalid,
)
from cardservice.registration.form import FormErrors
from cardservice.registration.models import Application, ApplicationDocument, ApplicationStatus
from cardservice.registration.storage import decrypt_document, document_aad
from cardservice.security.crypto import DecryptionError, decrypt
from cardservice.security.links import LinkInvalid
from cardservice.services import Services
from tests.registration_flow import (
    BOTH_SIDES,
    CLIENT,
    EMAIL,
    FORMS,
    add,
    both_profiles,  # noqa: F401  # a fixture
    count,
    document_key,
    fake_pdf,
    fill_draft,
    friday_for_every_test,  # noqa: F401  # a fixture
    load,
    outbox,
    photo,
    request_and_open,
    submit,
)

# Submitted on Friday 3 April 2026: Kashiwa closes on Mondays and counts 2 opening days
# (Sat 4, Sun 5); Yokohama counts 3 (Sat 4, Sun 5, Mon 6).
DUE_ON = {"kashiwa": date(2026, 4, 5), "yokohama": date(2026, 4, 6)}


async def test_whole_application_is_submitted_once(services: Services) -> None:
    profile = services.settings.profile
    public_id = await request_and_open(services)
    await fill_draft(services, public_id, documents=BOTH_SIDES)

    assert await submit(services, public_id) is True
    assert await submit(services, public_id) is False  # the double click

    async with services.db.transaction() as session:
        apps = list(await session.scalars(select(Application)))
    assert len(apps) == 1
    app = apps[0]
    assert app.status == ApplicationStatus.SUBMITTED
    assert app.due_on == DUE_ON[profile.id]
    assert app.family_kana == "ヤマダ"
    assert app.email == EMAIL
    assert app.consent_version == profile.registration.notes_version
    assert app.notifications["expiry_near"] is True
    assert app.password_hash is not None
    assert app.password_hash.startswith("$argon2id$")
    assert FORMS[profile.id]["password"] not in app.password_hash
    received = await outbox(services, "application_received")
    assert len(received) == 1
    assert received[0].to_address == EMAIL
    assert profile.library.name.ja in received[0].subject
    ready = DUE_ON[profile.id]
    assert f"{ready.year}年{ready.month}月{ready.day}日" in received[0].body_text


async def test_images_are_reencoded_and_encrypted_bound_to_their_row(
    services: Services,
) -> None:
    public_id = await request_and_open(services)
    await fill_draft(services, public_id, documents=BOTH_SIDES)
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        rows = list(await session.scalars(select(ApplicationDocument)))
    assert {(r.doc_type, r.side) for r in rows} == set(BOTH_SIDES)
    first, second = rows
    assert first.ciphertext is not None
    assert b"PhoneMaker" not in first.ciphertext
    plain = decrypt_document(app, first, document_key(services))
    with Image.open(io.BytesIO(plain)) as image:
        assert image.format == "JPEG"
        assert image.size == (640, 400) == (first.width, first.height)
        assert 0x010F not in image.getexif()  # the camera's EXIF is gone
    # The ciphertext of one document does not open as another.
    with pytest.raises(DecryptionError):
        decrypt(document_key(services), first.ciphertext, aad=document_aad(public_id, second.id))


async def test_link_answer_is_the_same_for_anyone_and_a_link_works_once(
    services: Services,
) -> None:
    public_id = await request_and_open(services)
    body = (await outbox(services, "verify_email"))[0].body_text
    assert services.settings.profile.library.sender_email in body
    token = re.search(r"/apply/verify/(\S+)", body)
    assert token is not None
    async with services.db.transaction() as session:
        with pytest.raises(LinkInvalid) as used:
            await applicant.open_application(session, token.group(1))
    assert used.value.code == "link_used"
    # A second link for the same address resumes the same draft.
    assert await request_and_open(services) == public_id


async def test_link_expires(services: Services, friday: time_machine.Traveller) -> None:
    profile = services.settings.profile
    async with services.db.transaction() as session:
        await applicant.request_link(
            session, EMAIL, CLIENT, profile=profile, base_url=services.settings.base_url
        )
    body = (await outbox(services, "verify_email"))[0].body_text
    token = re.search(r"/apply/verify/(\S+)", body)
    assert token is not None
    friday.shift(timedelta(hours=profile.links.verification_hours))
    async with services.db.transaction() as session:
        with pytest.raises(LinkInvalid) as expired:
            await applicant.open_application(session, token.group(1))
    assert expired.value.code == "link_expired"
    assert await count(services, Application) == 0


async def test_over_the_rate_limit_nothing_is_sent_and_nothing_is_said(
    services: Services,
) -> None:
    profile = services.settings.profile
    for _ in range(profile.links.per_address_per_hour + 2):
        async with services.db.transaction() as session:
            # No return value and no error: the caller has nothing to tell the visitor.
            await applicant.request_link(
                session, EMAIL, CLIENT, profile=profile, base_url="https://x.example"
            )
    assert len(await outbox(services, "verify_email")) == profile.links.per_address_per_hour


async def test_form_errors_come_together_and_nothing_is_stored(services: Services) -> None:
    profile = services.settings.profile
    public_id = await request_and_open(services)
    raw = {**FORMS[profile.id], "family_kana": "Yamada", "password": "short"}
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        with pytest.raises(FormErrors) as caught:
            await applicant.save_form(session, app, raw, profile=profile)
    fields = caught.value.by_field()
    assert fields["family_kana"].code == "kana_invalid"
    assert fields["password"].code == "password_too_short"
    assert (await load(services, public_id)).has_form is False


@pytest.mark.parametrize("profile_name", ["yokohama"])
async def test_kawasaki_is_sent_to_the_counter(services: Services) -> None:
    profile = services.settings.profile
    public_id = await request_and_open(services)
    raw = {**FORMS["yokohama"], "postal_code": "210-0007", "city": "川崎市川崎区"}
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        with pytest.raises(FormErrors) as caught:
            await applicant.save_form(session, app, raw, profile=profile)
    error = caught.value.by_field()["basis"]
    assert error.code == "counter_adjacent_city"
    assert "窓口" in error.ja
    stored = await load(services, public_id)
    assert stored.has_form is False
    assert stored.postal_code == ""


async def test_consent_must_be_for_the_current_notes(services: Services) -> None:
    public_id = await request_and_open(services)
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        with pytest.raises(ConsentVersionInvalid):
            await applicant.record_consent(
                session, app, "an-old-version", profile=services.settings.profile
            )
    assert (await load(services, public_id)).consent_version is None


async def test_a_third_file_is_refused(services: Services) -> None:
    public_id = await request_and_open(services)
    await fill_draft(services, public_id, documents=BOTH_SIDES)
    if services.settings.profile.documents.max_files is None:  # Kashiwa counts no files
        await add(services, public_id, "drivers_license", "front")
        assert await count(services, ApplicationDocument) == 3
        return
    with pytest.raises(DocumentRejected) as caught:
        await add(services, public_id, "drivers_license", "front")
    assert caught.value.code == "document_too_many"
    assert caught.value.detail["max_files"] == 2
    assert caught.value.detail["remove"] == ["health_insurance:front", "health_insurance:back"]
    assert await count(services, ApplicationDocument) == 2
    # A retaken photo replaces its slot instead of counting as a third file.
    await add(services, public_id, "health_insurance", "back", data=photo("PNG"))
    async with services.db.transaction() as session:
        rows = list(await session.scalars(select(ApplicationDocument)))
    assert len(rows) == 2
    assert {r.content_type for r in rows} == {"image/jpeg", "image/png"}


async def test_a_pdf_named_png_is_refused_by_its_content(services: Services) -> None:
    public_id = await request_and_open(services)
    with pytest.raises(DocumentRejected) as caught:
        await add(services, public_id, "health_insurance", "front", data=fake_pdf(),
                  filename="licence.png")  # fmt: skip
    assert caught.value.code == "document_bad_type"
    assert await count(services, ApplicationDocument) == 0


async def test_never_the_back_of_a_my_number_card(services: Services) -> None:
    public_id = await request_and_open(services)
    with pytest.raises(DocumentRejected) as caught:
        await add(services, public_id, "my_number", "back")
    assert caught.value.code == "document_side_invalid"
    with pytest.raises(DocumentRejected) as unknown:
        await add(services, public_id, "passport_of_atlantis", "front")
    assert unknown.value.code == "document_type_invalid"
    assert await count(services, ApplicationDocument) == 0


async def test_submit_needs_consent_form_and_every_side(services: Services) -> None:
    public_id = await request_and_open(services)
    with pytest.raises(ApplicationIncomplete) as empty:
        await submit(services, public_id)
    assert empty.value.detail["missing"] == ["consent", "form", "identity_document"]
    await fill_draft(services, public_id, documents=(("health_insurance", "front"),))
    with pytest.raises(ApplicationIncomplete) as one_side:
        await submit(services, public_id)
    assert one_side.value.detail["missing"] == ["identity_document"]
    assert (await load(services, public_id)).status == ApplicationStatus.DRAFT
    assert await outbox(services, "application_received") == []


async def test_work_or_study_needs_the_extra_document(services: Services) -> None:
    profile = services.settings.profile
    public_id = await request_and_open(services)
    form = {**FORMS[profile.id], "basis": "works", "workplace_or_school": "市立図書館"}
    await fill_draft(services, public_id, form=form, documents=(("my_number", "front"),))
    with pytest.raises(ApplicationIncomplete) as caught:
        await submit(services, public_id)
    assert caught.value.detail["missing"] == ["extra_document"]
    await add(services, public_id, "extra", "front")
    assert await submit(services, public_id) is True


async def test_a_submitted_application_cannot_be_changed(services: Services) -> None:
    profile = services.settings.profile
    public_id = await request_and_open(services)
    await fill_draft(services, public_id, documents=BOTH_SIDES)
    await submit(services, public_id)
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        with pytest.raises(ApplicationNotEditable):
            await applicant.save_form(session, app, FORMS[profile.id], profile=profile)
        rows = list(await session.scalars(select(ApplicationDocument.id)))
        with pytest.raises(ApplicationNotEditable):
            await applicant.remove_document(session, app, rows[0])
    with pytest.raises(ApplicationNotEditable):
        await add(services, public_id, "health_insurance", "front")


async def test_remove_document_from_a_draft(services: Services) -> None:
    public_id = await request_and_open(services)
    await fill_draft(services, public_id, documents=BOTH_SIDES)
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        rows = list(await session.scalars(select(ApplicationDocument.id)))
        await applicant.remove_document(session, app, rows[1])
    assert await count(services, ApplicationDocument) == 1


async def test_concurrent_submits_make_one_submission(services: Services) -> None:
    public_id = await request_and_open(services)
    await fill_draft(services, public_id, documents=BOTH_SIDES)
    results = await asyncio.gather(*(submit(services, public_id) for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    assert len(await outbox(services, "application_received")) == 1
