"""Where a reviewer lands after a decision (approve, reject, ask): the next application in
the queue, the earliest due first as the queue lists them, or the queue itself when none is
left; and the notice there that says what was done to which application.

The landing page's URL carries ``done`` (what was done) and ``decided`` (the application it
was done to): /staff/applications/{next}?done=approved&decided={public_id}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.registration import waiting
from cardservice.registration.applicant import get_application
from cardservice.registration.errors import ApplicationNotFound
from cardservice.registration.models import Application
from cardservice.registration.queue import next_in_queue
from cardservice.registration.review_routes.common import QUEUE, AnyRequest, application_url
from cardservice.registration.review_routes.texts import APPROVED_NOTICES, DONE_NOTICES
from cardservice.web.pages import translate

DECISIONS: Final = frozenset({"approved", "rejected", "inquiry"})
PUBLIC_ID_MAX: Final = 32  # the column's length


@dataclass(frozen=True, slots=True, kw_only=True)
class DecidedNotice:
    """What was done (in the page's language) to which application."""

    text: str
    url: str
    reference: str
    name: str
    user_number: str | None


async def after_decision(session: AsyncSession, public_id: str, done: str) -> Redirect:
    """A 303 to the head of the queue (or the queue when it is empty), saying ``done`` was
    done to ``public_id``; called in the decision's transaction, after it."""
    query = urlencode({"done": done, "decided": public_id})
    following = await next_in_queue(session)
    target = application_url(following) if following else QUEUE
    return Redirect(f"{target}?{query}", status_code=HTTP_303_SEE_OTHER)


def done_text(request: AnyRequest, app: Application, done: str) -> str:
    """The notice of ``done`` on ``app`` in the page's language ("" if none): approving
    says what the procedure did (a new card, a renewal...)."""
    if done == "approved":
        return translate(request, APPROVED_NOTICES.get(app.procedure, DONE_NOTICES["approved"]))
    return translate(request, DONE_NOTICES[done]) if done in DONE_NOTICES else ""


async def decided_notice(
    request: AnyRequest, session: AsyncSession, shown: Application | None
) -> DecidedNotice | None:
    """The notice of the decision the query names (``done`` and ``decided``) when the page
    shows another application than the decided one (``shown``; None on the queue)."""
    done = request.query_params.get("done", "")
    decided = request.query_params.get("decided", "").strip()
    if done not in DECISIONS or not decided or len(decided) > PUBLIC_ID_MAX:
        return None
    if shown is not None and shown.public_id == decided:
        return None
    try:
        app = await get_application(session, decided)
    except ApplicationNotFound:
        return None
    return DecidedNotice(
        text=done_text(request, app, done),
        url=application_url(app.public_id),
        reference=app.reference,
        name=app.display_name or app.email,
        user_number=await waiting.issued_number(session, app) if done == "approved" else None,
    )
