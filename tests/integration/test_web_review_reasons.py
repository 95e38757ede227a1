"""The domain behind the review administration pages: editing rejection templates (rules,
roles, audit) and the list of applications waiting for an answer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import select

from cardservice.registration import applicant, inquiries, reasons, review, waiting
from cardservice.registration.form import FormErrors
from cardservice.registration.reasons import TemplateTexts
from cardservice.services import Services
from cardservice.staff.models import AuditEntry, Role, StaffUser
from cardservice.staff.service import StaffForbidden, create_staff
from tests.registration_flow import FRIDAY, submitted_application

TEXTS = TemplateTexts(
    code="Photo_Cut_Off",
    text_ja="書類の一部が写っていませんでした。",
    text_en="Part of the document was cut off.",
)


@pytest.fixture
def profile_name() -> str:
    return "kashiwa"


@pytest.fixture(autouse=True)
def friday() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(FRIDAY, tick=False) as traveller:
        yield traveller


async def staff_member(services: Services, role: Role, name: str = "tanaka") -> StaffUser:
    async with services.db.transaction() as session:
        return await create_staff(session, name, "edit the templates carefully", role)


async def test_create_update_and_deactivate_are_audited(services: Services) -> None:
    admin = await staff_member(services, Role.ADMIN)
    async with services.db.transaction() as session:
        made = await reasons.create_template(session, admin, TEXTS)
    assert made.code == "photo_cut_off"  # lower-cased
    async with services.db.transaction() as session:
        same = TemplateTexts(text_ja=f"  {TEXTS.text_ja}\r\n", text_en=TEXTS.text_en)
        await reasons.update_template(session, admin, made.id, same)  # no change, no entry
        changed = TemplateTexts(text_ja="一行目\r\n二行目", text_en=TEXTS.text_en)
        updated = await reasons.update_template(session, admin, made.id, changed)
        assert updated.text_ja == "一行目\n二行目"
        await reasons.set_template_active(session, admin, made.id, active=False)
        await reasons.set_template_active(session, admin, made.id, active=False)  # already
        assert made.id not in [t.id for t in await review.rejection_templates(session)]
        listed = await reasons.all_templates(session)
        assert listed[-1].id == made.id  # inactive ones last
    async with services.db.transaction() as session:
        entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    mine = [
        (e.action, e.staff_id, e.detail) for e in entries if e.target_type == "rejection_template"
    ]
    assert mine == [
        ("rejection_template.create", admin.id, {"code": "photo_cut_off"}),
        ("rejection_template.update", admin.id, {"code": "photo_cut_off"}),
        ("rejection_template.deactivate", admin.id, {"code": "photo_cut_off"}),
    ]


async def test_every_field_error_at_once(services: Services) -> None:
    admin = await staff_member(services, Role.ADMIN)
    bad = TemplateTexts(code="9lives", text_ja="", text_en="x" * (review.REASON_MAX + 1))
    async with services.db.transaction() as session:
        with pytest.raises(FormErrors) as caught:
            await reasons.create_template(session, admin, bad)
    errors = {e.field: e.code for e in caught.value.errors}
    assert errors == {"code": "code_invalid", "text_ja": "required", "text_en": "too_long"}
    assert "2000" in caught.value.by_field()["text_en"].ja

    hidden = TemplateTexts(code="ok_code", text_ja="理由\u202e", text_en="reason\x00")
    async with services.db.transaction() as session:
        with pytest.raises(FormErrors) as caught:
            await reasons.create_template(session, admin, hidden)
    assert {e.code for e in caught.value.errors} == {"control_characters"}


async def test_a_code_is_used_once(services: Services) -> None:
    admin = await staff_member(services, Role.ADMIN)
    async with services.db.transaction() as session:
        await reasons.create_template(session, admin, TEXTS)
    async with services.db.transaction() as session:
        with pytest.raises(FormErrors) as caught:
            await reasons.create_template(session, admin, TEXTS)
    assert [e.code for e in caught.value.errors] == ["code_taken"]


async def test_only_administrators_edit(services: Services) -> None:
    reviewer = await staff_member(services, Role.REVIEWER)
    async with services.db.transaction() as session:
        with pytest.raises(StaffForbidden):
            await reasons.create_template(session, reviewer, TEXTS)
        with pytest.raises(StaffForbidden):
            await reasons.set_template_active(session, reviewer, 1, active=False)


async def test_unknown_and_impossible_ids(services: Services) -> None:
    async with services.db.transaction() as session:
        for template_id in (0, 424242, 2**40):
            with pytest.raises(reasons.RejectionTemplateNotFound):
                await reasons.get_template(session, template_id)


async def test_awaiting_answer_lists_open_questions_by_answer_date(
    services: Services, friday: time_machine.Traveller
) -> None:
    asker = await staff_member(services, Role.REVIEWER, "asker")
    first = await submitted_application(services, "first@example.org")
    answered_later = await submitted_application(services, "later@example.org")
    in_queue = await submitted_application(services, "queue@example.org")
    profile = services.settings.profile

    async def ask(public_id: str) -> None:
        async with services.db.transaction() as session:
            app = await applicant.get_application(session, public_id)
            await inquiries.ask(
                session, app, asker, "質問です。", profile=profile, base_url="https://x.example"
            )

    await ask(first)
    friday.move_to(datetime(2026, 4, 4, 1, 0, tzinfo=UTC))
    await ask(answered_later)
    async with services.db.transaction() as session:
        items = await waiting.awaiting_answer(session, date(2026, 4, 4))
        late = await waiting.awaiting_answer(session, date(2027, 1, 1))
        app = await applicant.get_application(session, in_queue)
        assert await waiting.issued_number(session, app) is None
    assert [i.public_id for i in items] == [first, answered_later]
    assert items[0].answer_by < items[1].answer_by
    assert not items[0].overdue
    assert items[0].inquiries == 1
    assert all(i.overdue for i in late)
