"""Helpers for the registration tests: a valid application per profile, ID photos made with
Pillow, and the applicant's steps through the real service functions."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from alembic.script import ScriptDirectory
from PIL import Image
from sqlalchemy import func, insert, select

from cardservice.db.migrate import alembic_config
from cardservice.mail.models import OutboxRow
from cardservice.profiles.schema import Profile
from cardservice.registration import applicant, inquiries
from cardservice.registration.documents import CleanImage, check_and_reencode
from cardservice.registration.models import Application, RejectionTemplate
from cardservice.security.secrets import app_secrets
from cardservice.services import Services
from cardservice.staff.models import Role, StaffUser
from cardservice.staff.service import create_staff

EMAIL = "hanako@example.org"
CLIENT = "203.0.113.7"
# Friday 3 April 2026, 10:00 in Tokyo.
FRIDAY = datetime(2026, 4, 3, 1, 0, tzinfo=UTC)


# Fixtures for the test modules that import them by name (pytest finds a fixture in the
# module's namespace): ``profile_name`` for both shipped profiles, ``clock`` stopped at
# FRIDAY for the tests that ask for it, ``friday`` stopped at FRIDAY for every test.


@pytest.fixture(name="profile_name", params=["yokohama", "kashiwa"])
def both_profiles(request: pytest.FixtureRequest) -> str:
    """Each test of the module once for Yokohama's profile and once for Kashiwa's."""
    return str(request.param)


@pytest.fixture(name="clock")
def clock_at_friday() -> Iterator[time_machine.Traveller]:
    """The clock stopped at FRIDAY, for the tests that ask for ``clock`` (and move it)."""
    with time_machine.travel(FRIDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture(name="friday", autouse=True)
def friday_for_every_test() -> Iterator[time_machine.Traveller]:
    """The clock stopped at FRIDAY for every test of the module (``friday`` moves it)."""
    with time_machine.travel(FRIDAY, tick=False) as traveller:
        yield traveller


BASE_FORM: dict[str, str] = {
    "procedure": "new",
    "family_name": "山田",
    "given_name": "花子",
    "family_kana": "やまだ",  # hiragana is accepted and stored as katakana
    "given_kana": "ハナコ",
    "birth_date": "1990-04-01",
    "building": "",
    "basis": "lives",
    "workplace_or_school": "",
    "notify_expiry_near": "on",
}
FORMS: dict[str, dict[str, str]] = {
    "yokohama": {
        **BASE_FORM,
        "postal_code": "２３１－０００５",  # full-width is accepted
        "prefecture": "神奈川県",
        "city": "横浜市中区",
        "street": "本町1-1",
        "phone": "045-262-7334",
        "password": "Hon-yomu7",
    },
    "kashiwa": {
        **BASE_FORM,
        "postal_code": "277-0005",
        "prefecture": "千葉県",
        "city": "柏市",
        "street": "柏1-1",
        "phone": "04-7167-1111",
        "password": "kashiwa reading room 2026",
    },
}


def photo(fmt: str = "JPEG", size: tuple[int, int] = (640, 400)) -> bytes:
    """An ID-card-like picture with EXIF (which re-encoding must drop)."""
    image = Image.new("RGB", size, (235, 240, 250))
    for x in range(40, 260):
        for y in range(60, 300):
            image.putpixel((x, y), (90, 90, 120))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    buffer = io.BytesIO()
    image.save(buffer, fmt, exif=exif)
    return buffer.getvalue()


def fake_pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


def document_key(services: Services) -> bytes:
    return app_secrets(services.settings).document_key


async def outbox(services: Services, template: str | None = None) -> list[OutboxRow]:
    async with services.db.transaction() as session:
        query = select(OutboxRow).order_by(OutboxRow.id)
        if template is not None:
            query = query.where(OutboxRow.template == template)
        return list(await session.scalars(query))


async def count(services: Services, model: type[object]) -> int:
    async with services.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def request_and_open(services: Services, email: str = EMAIL) -> str:
    """Ask for the link, read it from the outbox as the applicant would, follow it."""
    profile = services.settings.profile
    async with services.db.transaction() as session:
        await applicant.request_link(
            session, email, CLIENT, profile=profile, base_url=services.settings.base_url
        )
    body = (await outbox(services, "verify_email"))[-1].body_text
    found = re.search(r"/apply/verify/(\S+)", body)
    assert found is not None, body
    async with services.db.transaction() as session:
        app = await applicant.open_application(session, found.group(1))
        return app.public_id


async def fill_draft(
    services: Services,
    public_id: str,
    *,
    form: dict[str, str] | None = None,
    documents: tuple[tuple[str, str], ...] = (("health_insurance", "front"),),
) -> None:
    profile = services.settings.profile
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        await applicant.record_consent(
            session, app, profile.registration.notes_version, profile=profile
        )
        await applicant.save_form(session, app, form or FORMS[profile.id], profile=profile)
    for doc_type, side in documents:
        await add(services, public_id, doc_type, side)


async def add(
    services: Services,
    public_id: str,
    doc_type: str,
    side: str,
    *,
    data: bytes | None = None,
    filename: str = "photo.jpg",
) -> int:
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        row = await applicant.add_document(
            session,
            app,
            doc_type=doc_type,
            side=side,
            image=checked(services, photo() if data is None else data, filename),
            profile=services.settings.profile,
            document_key=document_key(services),
        )
        return row.id


def checked(services: Services, data: bytes, filename: str = "photo.jpg") -> CleanImage:
    """The image as the pool hands it over (the same check, in this process)."""
    documents = services.settings.profile.documents
    return check_and_reencode(data, profile_documents=documents, filename=filename)


async def submit(services: Services, public_id: str) -> bool:
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        return await applicant.submit(session, app, profile=services.settings.profile)


QUESTION = "保険証のうら面の住所が読み取れません。住所欄を撮り直してお送りください。"


async def ask(
    services: Services, public_id: str, staff: StaffUser, question: str = QUESTION
) -> str:
    """A reviewer asks ``question``; the answer token from the email the applicant gets."""
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        await inquiries.ask(
            session,
            app,
            staff,
            question,
            profile=services.settings.profile,
            base_url=services.settings.base_url,
        )
    body = (await outbox(services, "inquiry"))[-1].body_text
    found = re.search(r"/apply/answer/(\S+)", body)
    assert found is not None, body
    return found.group(1)


BOTH_SIDES = (("health_insurance", "front"), ("health_insurance", "back"))


async def submitted_application(services: Services, email: str = EMAIL) -> str:
    """A complete application, submitted; returns its public id."""
    public_id = await request_and_open(services, email)
    await fill_draft(services, public_id, documents=BOTH_SIDES)
    assert await submit(services, public_id)
    return public_id


async def load(services: Services, public_id: str) -> Application:
    async with services.db.transaction() as session:
        return await applicant.get_application(session, public_id)


async def make_reviewer(services: Services, username: str = "reviewer") -> StaffUser:
    async with services.db.transaction() as session:
        return await create_staff(session, username, "review the queue carefully", Role.REVIEWER)


async def seed_rejection_templates(services: Services) -> None:
    """The fixtures empty every table; put back the rows migration 0004 seeds."""
    revision = ScriptDirectory.from_config(alembic_config()).get_revision("0004")
    assert revision is not None
    rows = revision.module.REJECTION_TEMPLATES
    async with services.db.transaction() as session:
        await session.execute(insert(RejectionTemplate), [{**r, "active": True} for r in rows])


def local_date(profile: Profile, when: datetime) -> date:
    return when.astimezone(ZoneInfo(profile.library.timezone)).date()
