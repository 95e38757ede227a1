"""Rejection templates: the reasons review staff pick from, edited by administrators.

A template has a stable ``code`` (recorded in the audit log of each rejection that uses it)
and a text in Japanese and in English; the applicant reads the one in their language. A
template is never deleted, only deactivated, so the audit log's codes keep their meaning;
a deactivated one can be brought back. Every change is audited in the same transaction.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.db.base import ID_MAX
from cardservice.errors import NotFound
from cardservice.registration import Messages, localise
from cardservice.registration.form import FieldError, FormErrors
from cardservice.registration.models import RejectionTemplate
from cardservice.registration.review import REASON_MAX
from cardservice.staff import audit
from cardservice.staff.models import Role, StaffUser
from cardservice.staff.service import require_role
from cardservice.text import has_invisible, unify_line_breaks

CODE_MAX = 64
TARGET = "rejection_template"
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
# Control and format characters have no place in a letter to an applicant; a line break does.
_LINE_BREAKS = "\n"

MESSAGES: Messages = {
    "required": {"ja": "必須項目です。", "en": "This field is required."},
    "too_long": {
        "ja": "{max}文字以内で入力してください。",
        "en": "Use at most {max} characters.",
    },
    "control_characters": {
        "ja": "使用できない文字（制御文字など）が含まれています。",
        "en": "This contains characters that cannot be used (control characters).",
    },
    "code_invalid": {
        "ja": "コードは英小文字で始め、英小文字・数字・「_」だけで入力してください。",
        "en": "Start the code with a lower-case letter; use only a-z, 0-9 and '_'.",
    },
    "code_taken": {
        "ja": "このコードはすでに使われています。別のコードにしてください。",
        "en": "This code is already in use; choose another.",
    },
    "rejection_template_not_found": {
        "ja": "お断りの定型文が見つかりません。",
        "en": "The rejection template was not found.",
    },
}


class RejectionTemplateNotFound(NotFound):
    """The rejection template was not found."""

    code = "rejection_template_not_found"


@dataclass(frozen=True, slots=True)
class TemplateTexts:
    """What an administrator typed: the code (only when creating) and both texts."""

    text_ja: str
    text_en: str
    code: str = ""


async def all_templates(session: AsyncSession) -> list[RejectionTemplate]:
    """Every template, active ones first, each group in the order they were made."""
    rows = await session.scalars(
        select(RejectionTemplate).order_by(RejectionTemplate.active.desc(), RejectionTemplate.id)
    )
    return list(rows)


async def get_template(session: AsyncSession, template_id: int) -> RejectionTemplate:
    # An id past 32 bits is no row (and PostgreSQL would refuse to compare it).
    fits = 0 < template_id <= ID_MAX
    template = await session.get(RejectionTemplate, template_id) if fits else None
    if template is None:
        raise RejectionTemplateNotFound(template_id=template_id)
    return template


async def create_template(
    session: AsyncSession, staff: StaffUser, texts: TemplateTexts
) -> RejectionTemplate:
    """A new active template; :class:`FormErrors` names every field that is wrong."""
    require_role(staff, Role.ADMIN)
    errors: list[FieldError] = []
    code = _code(texts.code, errors)
    text_ja, text_en = _texts(texts, errors)
    if code and await session.scalar(
        select(RejectionTemplate.id).where(RejectionTemplate.code == code)
    ):
        errors.append(_error("code", "code_taken"))
    if errors:
        raise FormErrors(errors)
    template = RejectionTemplate(code=code, text_ja=text_ja, text_en=text_en, active=True)
    session.add(template)
    try:
        await session.flush()
    except IntegrityError:  # made by another administrator between our check and insert
        raise FormErrors([_error("code", "code_taken")]) from None
    await _audit(session, staff, "rejection_template.create", template)
    return template


async def update_template(
    session: AsyncSession, staff: StaffUser, template_id: int, texts: TemplateTexts
) -> RejectionTemplate:
    """New texts for a template; its code stays, so past audit entries keep their meaning."""
    require_role(staff, Role.ADMIN)
    template = await get_template(session, template_id)
    errors: list[FieldError] = []
    text_ja, text_en = _texts(texts, errors)
    if errors:
        raise FormErrors(errors)
    if (template.text_ja, template.text_en) != (text_ja, text_en):
        template.text_ja, template.text_en = text_ja, text_en
        await session.flush()
        await _audit(session, staff, "rejection_template.update", template)
    return template


async def set_template_active(
    session: AsyncSession, staff: StaffUser, template_id: int, *, active: bool
) -> RejectionTemplate:
    """Take a template out of the list staff choose from, or put it back."""
    require_role(staff, Role.ADMIN)
    template = await get_template(session, template_id)
    if template.active != active:
        template.active = active
        await session.flush()
        action = "rejection_template.activate" if active else "rejection_template.deactivate"
        await _audit(session, staff, action, template)
    return template


def _code(raw: str, errors: list[FieldError]) -> str:
    code = raw.strip().lower()
    if not code:
        errors.append(_error("code", "required"))
    elif len(code) > CODE_MAX:
        errors.append(_error("code", "too_long", max=CODE_MAX))
    elif not _CODE.match(code):
        errors.append(_error("code", "code_invalid"))
    return code


def _texts(texts: TemplateTexts, errors: list[FieldError]) -> tuple[str, str]:
    return _text(texts.text_ja, "text_ja", errors), _text(texts.text_en, "text_en", errors)


def _text(raw: str, field: str, errors: list[FieldError]) -> str:
    """Trimmed, line breaks kept (as ``\\n``), no other control characters."""
    text = unicodedata.normalize("NFC", unify_line_breaks(raw)).strip()
    if not text:
        errors.append(_error(field, "required"))
    elif len(text) > REASON_MAX:
        errors.append(_error(field, "too_long", max=REASON_MAX))
    elif has_invisible(text, allowed=_LINE_BREAKS):
        errors.append(_error(field, "control_characters"))
    return text


def _error(field: str, code: str, **params: object) -> FieldError:
    texts = localise(MESSAGES, code, **params)
    return FieldError(field, code, texts["ja"], texts["en"])


async def _audit(
    session: AsyncSession, staff: StaffUser, action: str, template: RejectionTemplate
) -> None:
    await audit.record(
        session,
        staff_id=staff.id,
        action=action,
        target_type=TARGET,
        target_id=template.id,
        detail={"code": template.code},
    )
