"""A logged-in patron starts a procedure on their card: reissue, renewal or change of details.

    POST /apply/procedure/{procedure}    from My Library (CSRF); then the notes and the form

The procedure must be open to the patron today (``registration.procedures.require_open``);
when it is not, the page says why and, for a renewal before its window, from when. Without a
login the patron is sent to log in and comes back to My Library, where the procedures are.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from litestar import post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_409_CONFLICT

from cardservice.patrons.paths import LOGIN_PATH, MY_PATH
from cardservice.patrons.routes.common import current_patron, with_device_cookie
from cardservice.registration import applicant
from cardservice.registration.form import CARD_PROCEDURES, Procedure
from cardservice.registration.procedures import ProcedureClosed
from cardservice.registration.routes import texts
from cardservice.registration.routes.common import SESSION_KEY, AnyRequest, see_other
from cardservice.web.i18n import language
from cardservice.web.pages import date_text, render
from cardservice.web.state import services


def _procedure(value: str) -> Procedure:
    try:
        procedure = Procedure(value)
    except ValueError:
        raise NotFoundException from None
    if procedure not in CARD_PROCEDURES:
        raise NotFoundException
    return procedure


@post("/apply/procedure/{procedure:str}", name="apply_start_procedure")
async def start_procedure(request: AnyRequest, procedure: FromPath[str]) -> Template | Redirect:
    chosen = _procedure(procedure)
    svc = services(request)
    try:
        async with svc.db.transaction() as session:
            patron = await current_patron(request, session)
            if patron is None:
                login = f"{LOGIN_PATH}?{urlencode({'next': MY_PATH}, safe='/')}"
                return with_device_cookie(request, see_other(login))
            app = await applicant.start_procedure(
                session, patron, chosen, profile=svc.settings.profile, language=language(request)
            )
            public_id = app.public_id
    except ProcedureClosed as exc:
        return with_device_cookie(request, _closed_page(request, chosen, exc))
    # The patron's session goes on; the draft is found through it like any other.
    request.set_session({**request.session, SESSION_KEY: public_id})
    return with_device_cookie(request, see_other("/apply/notes"))


def _closed_page(request: AnyRequest, procedure: Procedure, exc: ProcedureClosed) -> Template:
    lang = language(request)
    closed = str(exc.detail.get("closed") or "")
    opens_on = exc.detail.get("opens_on")
    day = date_text(request, date.fromisoformat(opens_on)) if opens_on else ""
    return render(
        request,
        "pages/apply/closed.html",
        status_code=HTTP_409_CONFLICT,
        procedure=procedure.value,
        closed=closed,
        message=texts.closed_text(lang, closed, day),
        code=exc.code,
    )
