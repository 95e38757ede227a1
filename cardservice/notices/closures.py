"""Emergency-closure notices: an administrator writes one in Japanese and English, sees it as
patrons will, and sends it to every patron who opted in.

Recipients: patrons whose ``notifications["emergency_closure"]`` is true and who hold at
least one card that is not revoked. An expired or suspended card still makes a patron of the
library (they may renew, or their reissue is under way); a patron whose every card is revoked
has left, or holds only numbers that no longer exist.

Sending creates the :class:`Notice` (with the number of recipients at that moment) and
nothing else; :func:`deliver_pending_notices` then queues the emails in batches, one
transaction each: claim the next patrons' delivery rows (``notice:{id}``, insert-or-skip),
queue their emails and add to ``Notice.queued`` beside them. When no recipient is left,
``finished_at`` is set. Two processes running it at once send each patron exactly once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards.models import Card, CardStatus
from cardservice.db.base import ID_MAX, utcnow
from cardservice.db.engine import Database
from cardservice.errors import InvalidInput, NotFound
from cardservice.mail.errors import InvalidRecipient
from cardservice.mail.letterhead import letterhead
from cardservice.mail.outbox import OutgoingMail, enqueue
from cardservice.mail.render import LANGUAGES, Language, RenderedMail, render
from cardservice.notices.deliveries import claim, mail_language, opted_in
from cardservice.notices.models import Notice, NoticeDelivery
from cardservice.patrons.models import Patron
from cardservice.profiles.schema import Profile
from cardservice.staff import audit
from cardservice.staff.models import StaffUser
from cardservice.text import has_invisible, unify_line_breaks

log = logging.getLogger(__name__)

TEMPLATE: Final = "emergency_closure"
KIND: Final = "emergency_closure"
SUBJECT_MAX: Final = 100  # characters; a subject line that still reads whole on a phone
BODY_MAX: Final = 4000
FIELDS: Final = ("subject_ja", "body_ja", "subject_en", "body_en")
# Patrons per transaction: short transactions, so other writers never wait long.
BATCH_SIZE: Final = 200
# The same texts sent again this soon by the same person is a double click, not a notice.
RESEND_GUARD: Final = timedelta(minutes=10)

# Control characters other than line breaks and tabs never belong in a notice.
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class NoticeInvalid(InvalidInput):
    """The notice is not complete: ``problems`` maps each field to ``required``,
    ``too_long`` or ``control_characters`` (a format character such as a bidi override or a
    zero-width space, refused as in rejection reasons and questions)."""

    code = "notice_invalid"

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__(fields=dict(problems))
        self.problems = dict(problems)


class NoticeNotFound(NotFound):
    """There is no such notice."""

    code = "notice_not_found"


@dataclass(frozen=True, slots=True, kw_only=True)
class NoticeDraft:
    """A notice's texts, checked: one-line subjects, bodies with ``\\n`` line breaks."""

    subject_ja: str
    body_ja: str
    subject_en: str
    body_en: str


def clean_subject(value: str) -> str:
    """One line: runs of whitespace (line breaks too) become one space."""
    return " ".join(_CONTROL.sub(" ", value).split())


def clean_body(value: str) -> str:
    """Line breaks kept as ``\\n``; trailing spaces and surrounding blank lines dropped."""
    lines = _CONTROL.sub("", unify_line_breaks(value)).split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def parse_draft(raw: Mapping[str, str]) -> NoticeDraft:
    """The four texts, all required, lengths bounded; raises :class:`NoticeInvalid`."""
    values = {
        name: (clean_subject if name.startswith("subject") else clean_body)(raw.get(name, ""))
        for name in FIELDS
    }
    problems: dict[str, str] = {}
    for name, value in values.items():
        limit = SUBJECT_MAX if name.startswith("subject") else BODY_MAX
        if not value.strip():
            problems[name] = "required"
        elif len(value) > limit:
            problems[name] = "too_long"
        elif has_invisible(value):
            problems[name] = "control_characters"
    if problems:
        raise NoticeInvalid(problems)
    return NoticeDraft(**values)


def notice_key(notice_id: int) -> str:
    return f"notice:{notice_id}"


def mail_context(draft: NoticeDraft | Notice, lang: Language, profile: Profile) -> dict[str, Any]:
    return {
        "notice_subject": draft.subject_en if lang == "en" else draft.subject_ja,
        "notice_body": draft.body_en if lang == "en" else draft.body_ja,
        "library": letterhead(profile, lang),
    }


def preview(draft: NoticeDraft, profile: Profile) -> dict[Language, RenderedMail]:
    """The email in each language exactly as a patron will get it."""
    return {lang: render(TEMPLATE, lang, mail_context(draft, lang, profile)) for lang in LANGUAGES}


def _is_recipient() -> tuple[ColumnElement[bool], ...]:
    has_card = exists().where(Card.patron_id == Patron.id, Card.status != CardStatus.REVOKED)
    return opted_in("emergency_closure"), has_card


def recipients() -> Select[Patron]:
    """The patrons a closure notice goes to (see the module's docstring)."""
    return select(Patron).where(*_is_recipient())


async def count_recipients(session: AsyncSession) -> int:
    query = select(func.count()).select_from(Patron).where(*_is_recipient())
    return int(await session.scalar(query) or 0)


async def create_notice(
    session: AsyncSession, draft: NoticeDraft, staff: StaffUser, *, now: datetime | None = None
) -> tuple[Notice, bool]:
    """The notice, to be delivered by :func:`deliver_pending_notices`; audited.

    Returns ``(notice, True)``, or ``(earlier, False)`` when this staff member sent the same
    texts within ``RESEND_GUARD`` (a second click on "send"). The staff row is locked first,
    so two such clicks at once still make one notice (SQLite serialises writers anyway).
    """
    now = now or utcnow()
    await session.execute(select(StaffUser.id).where(StaffUser.id == staff.id).with_for_update())
    earlier = await session.scalar(
        select(Notice)
        .where(
            Notice.created_by == staff.id,
            Notice.created_at >= now - RESEND_GUARD,
            Notice.subject_ja == draft.subject_ja,
            Notice.body_ja == draft.body_ja,
            Notice.subject_en == draft.subject_en,
            Notice.body_en == draft.body_en,
        )
        .order_by(Notice.id.desc())
        .limit(1)
    )
    if earlier is not None:
        return earlier, False
    count = await count_recipients(session)
    notice = Notice(
        kind=KIND,
        subject_ja=draft.subject_ja,
        body_ja=draft.body_ja,
        subject_en=draft.subject_en,
        body_en=draft.body_en,
        created_by=staff.id,
        created_at=now,
        recipients=count,
        queued=0,
        finished_at=now if count == 0 else None,
    )
    session.add(notice)
    await session.flush()
    await audit.record(
        session,
        staff_id=staff.id,
        action="notice.send",
        target_type="notice",
        target_id=notice.id,
        detail={"kind": KIND, "recipients": count},
    )
    return notice, True


async def get_notice(session: AsyncSession, notice_id: int) -> Notice:
    notice = await session.get(Notice, notice_id) if 0 < notice_id <= ID_MAX else None
    if notice is None:
        raise NoticeNotFound(id=notice_id)
    return notice


async def recent_notices(session: AsyncSession, *, limit: int = 50) -> list[Notice]:
    return list(await session.scalars(select(Notice).order_by(Notice.id.desc()).limit(limit)))


async def deliver_batch(
    session: AsyncSession,
    notice: Notice,
    profile: Profile,
    *,
    batch_size: int = BATCH_SIZE,
    now: datetime | None = None,
) -> int | None:
    """Queue the next ``batch_size`` recipients' emails in the caller's transaction.

    Returns how many this call queued (0 when another process claimed the same patrons
    first), or ``None`` when no recipient is left, after marking the notice finished."""
    now = now or utcnow()
    key = notice_key(notice.id)
    delivered = exists().where(
        NoticeDelivery.notice_key == key, NoticeDelivery.patron_id == Patron.id
    )
    patrons = list(
        await session.scalars(recipients().where(~delivered).order_by(Patron.id).limit(batch_size))
    )
    if not patrons:
        await session.execute(
            update(Notice)
            .where(Notice.id == notice.id, Notice.finished_at.is_(None))
            .values(finished_at=now)
        )
        return None
    claimed = await claim(session, [(key, patron.id) for patron in patrons], now=now)
    queued = 0
    for patron in patrons:
        if (key, patron.id) not in claimed:
            continue
        lang = mail_language(patron)
        mail = OutgoingMail(patron.email, TEMPLATE, lang, mail_context(notice, lang, profile))
        try:
            await enqueue(session, mail, now=now)
        except InvalidRecipient:
            # Kept as delivered: an address that cannot take mail must not stop the notice.
            log.warning(
                "closure notice %s not sent: patron %s has no usable address", notice.id, patron.id
            )
            continue
        queued += 1
    if queued:
        await session.execute(
            update(Notice).where(Notice.id == notice.id).values(queued=Notice.queued + queued)
        )
    return queued


async def deliver_pending_notices(
    db: Database, profile: Profile, *, batch_size: int = BATCH_SIZE, now: datetime | None = None
) -> int:
    """Deliver every unfinished notice to the end, a batch per transaction; returns how
    many emails this run queued. Resumes where any earlier or concurrent run stopped."""
    async with db.transaction() as session:
        pending = list(
            await session.scalars(
                select(Notice).where(Notice.finished_at.is_(None)).order_by(Notice.id)
            )
        )
    total = 0
    for notice in pending:
        while True:
            async with db.transaction() as session:
                queued = await deliver_batch(
                    session, notice, profile, batch_size=batch_size, now=now
                )
            if queued is None:
                break
            total += queued
    return total
