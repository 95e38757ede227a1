"""Step 3: the application form, per procedure.

A draft a logged-in patron started (``routes.procedure``) has its procedure fixed, shows the
patron's name and birth date as they are registered, and starts filled in from the patron's
details. A draft opened from the email link offers the procedures the library takes online
(``procedures.online``): choosing one shows its form (a plain GET, so it works without
JavaScript), and the chosen procedure is saved with the form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Response, get, post
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_404_NOT_FOUND
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.registration import applicant, steps
from cardservice.registration.form import FormErrors, Procedure
from cardservice.registration.japan import (
    PREFECTURES,
    PREFECTURES_EN,
    InvalidPostalCode,
    lookup_postal_code,
)
from cardservice.registration.routes import texts
from cardservice.registration.routes.common import (
    AnyRequest,
    Flag,
    Text,
    draft_application,
    see_other,
)
from cardservice.web.i18n import language, switching_language
from cardservice.web.pages import date_text, render
from cardservice.web.state import services


class ApplicationFormBody(msgspec.Struct):
    procedure: Text = ""
    family_name: Text = ""
    given_name: Text = ""
    family_kana: Text = ""
    given_kana: Text = ""
    birth_date: Text = ""
    postal_code: Text = ""
    prefecture: Text = ""
    city: Text = ""
    street: Text = ""
    building: Text = ""
    phone: Text = ""
    basis: Text = ""
    workplace_or_school: Text = ""
    notify_reservation_ready: Flag = ""
    notify_expiry_near: Flag = ""
    notify_overdue: Flag = ""
    notify_new_arrivals: Flag = ""
    notify_emergency_closure: Flag = ""
    password: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    # Reissue: why, the e-library notice acknowledged, and for a name change the new name.
    reissue_reason: Text = ""
    eloan_acknowledged: Flag = ""
    new_family_name: Text = ""
    new_given_name: Text = ""
    new_family_kana: Text = ""
    new_given_kana: Text = ""
    # The no-script postal code button: fill in the address, save nothing.
    lookup: Flag = ""

    def raw(self) -> dict[str, str]:
        fields = msgspec.structs.asdict(self)
        fields.pop("lookup")
        return fields


@dataclass(frozen=True, slots=True)
class Draft:
    """What the form page needs of the draft, read while its transaction is open."""

    email: str
    saved: bool
    fixed: str | None  # the procedure a logged-in patron started; None: the applicant picks
    procedure: str  # as saved on the draft
    identity: dict[str, str] | None  # the linked patron's name and birth date, as shown
    values: dict[str, str]  # the form as saved, or the patron's details


async def _draft(request: AnyRequest, session: AsyncSession) -> Draft:
    app = await draft_application(request, session)
    patron = await applicant.linked_patron(session, app)
    values = steps.form_values(app, patron)
    identity = None
    if patron is not None:
        identity = steps.patron_values(steps.blank_form(app.email), patron)
        identity["birth_date"] = date_text(request, patron.birth_date)
    return Draft(
        email=app.email,
        saved=app.has_form,
        fixed=app.procedure if patron is not None else None,
        procedure=app.procedure,
        identity=identity,
        values=values,
    )


def _offered(request: AnyRequest) -> list[str]:
    """The procedures the library takes online, new registration first."""
    online = services(request).settings.profile.procedures.online
    return [p.value for p in Procedure if p.value in online]


def _shown_procedure(request: AnyRequest, draft: Draft, wanted: str) -> str:
    """The procedure whose form is shown: the fixed one, else ``wanted`` when offered."""
    if draft.fixed is not None:
        return draft.fixed
    offered = _offered(request)
    if wanted in offered:
        return wanted
    return draft.procedure if draft.procedure in offered else offered[0]


def _form_page(  # the page's state, each part shown by the template
    request: AnyRequest,
    draft: Draft,
    values: dict[str, str],
    *,
    procedure: str,
    errors: dict[str, str] | None = None,
    counter: list[str] | None = None,
    registered: bool = False,
    looked_up: bool = False,
    status_code: int = 200,
) -> Template:
    profile = services(request).settings.profile
    lang = language(request)
    names = PREFECTURES_EN if lang == "en" else PREFECTURES
    return render(
        request,
        "pages/apply/form.html",
        status_code=status_code,
        step=3,
        values={**values, "procedure": procedure},
        procedure=procedure,
        offered=_offered(request),
        fixed=draft.fixed is not None,
        identity=draft.identity,
        errors=errors or {},
        counter=counter or [],
        registered=registered,  # a card holder's new registration: also /forgot-number
        looked_up=looked_up,
        saved=draft.saved,
        policy=profile.password,
        bases=profile.registration.bases,
        library_city=profile.library.city.get(lang),
        # Residents of these other municipalities register as residents too (Kashiwa: the
        # neighbouring cities in Chiba), so the "I live" choice names them.
        resident_others=("、" if lang == "ja" else ", ").join(
            profile.library.municipality_name(m, lang)
            for m in profile.library.resident_municipalities
            if m != profile.library.city.ja
        ),
        postal_example=profile.library.sample_postal_code,
        extra_document=profile.documents.extra_for_work_or_study,
        eloan_notice=profile.procedures.eloan_notice.get(lang),
        prefectures=list(zip(PREFECTURES, names, strict=True)),
    )


@get("/apply/form", name="apply_form")
async def application_form(request: AnyRequest, procedure: FromQuery[str] = "") -> Template:
    async with services(request).db.read() as session:
        draft = await _draft(request, session)
    shown = _shown_procedure(request, draft, procedure[:16])
    return _form_page(request, draft, draft.values, procedure=shown)


@post("/apply/form", name="apply_save_form")
async def save_form(
    request: AnyRequest, data: URLEncodedBody[ApplicationFormBody]
) -> Template | Redirect:
    lang = language(request)
    raw = data.raw()
    if await switching_language(request):
        return await _form_as_sent(request, raw)
    if data.lookup:
        return await _fill_from_postal_code(request, raw)
    profile = services(request).settings.profile
    async with services(request).db.read() as session:
        prehashed = await applicant.hash_ahead(
            await draft_application(request, session), raw, profile
        )
    try:
        async with services(request).db.transaction() as session:
            app = await draft_application(request, session)
            # Read now: a rollback expires the loaded application.
            draft = await _draft(request, session)
            await applicant.save_form(session, app, raw, profile=profile, prehashed=prehashed)
    except FormErrors as exc:  # raised before anything changed; rolled back all the same
        words = texts.field_words(lang)
        return _form_page(
            request,
            draft,
            steps.typed_values(raw, draft.email),
            procedure=_shown_procedure(request, draft, raw["procedure"]),
            errors=steps.field_errors(exc, lang, words),
            counter=steps.counter_messages(exc, lang, words),
            registered=any(e.code == "already_registered" for e in exc.errors),
            status_code=HTTP_400_BAD_REQUEST,
        )
    return see_other("/apply/documents")


async def _form_as_sent(request: AnyRequest, raw: dict[str, str]) -> Template:
    """A language switch: the form again, in the new language, as typed; nothing saved."""
    async with services(request).db.read() as session:
        draft = await _draft(request, session)
    values = steps.typed_values(raw, draft.email)
    procedure = _shown_procedure(request, draft, raw["procedure"])
    return _form_page(request, draft, values, procedure=procedure)


async def _fill_from_postal_code(request: AnyRequest, raw: dict[str, str]) -> Template:
    async with services(request).db.read() as session:
        draft = await _draft(request, session)
    values = steps.typed_values(raw, draft.email)
    procedure = _shown_procedure(request, draft, raw["procedure"])
    lang = language(request)
    try:
        address = await anyio.to_thread.run_sync(lookup_postal_code, raw["postal_code"])
    except InvalidPostalCode as exc:
        error = steps.error_text(exc, lang)
    else:
        if address is not None:
            values["prefecture"], values["city"] = address.prefecture, address.city
            return _form_page(request, draft, values, procedure=procedure, looked_up=True)
        error = _unknown_postal_code(request, raw["postal_code"])
    return _form_page(
        request,
        draft,
        values,
        procedure=procedure,
        errors={"postal_code": error},
        status_code=HTTP_400_BAD_REQUEST,
    )


def _unknown_postal_code(request: AnyRequest, code: str) -> str:
    lang = language(request)
    library = services(request).settings.profile.library.name.get(lang)
    return steps.text("postal_code_unknown", lang, postal_code=code, library=library)


@get("/apply/postal", name="apply_postal")
async def postal(request: AnyRequest, code: FromQuery[str] = "") -> Response[dict[str, Any]]:
    """The address for a postal code, for the form's script to fill in."""
    try:
        address = await anyio.to_thread.run_sync(lookup_postal_code, code[:32])
    except InvalidPostalCode as exc:
        error = {"code": exc.code, "message": steps.error_text(exc, language(request))}
        return Response({"error": error}, status_code=HTTP_400_BAD_REQUEST)
    if address is None:
        message = _unknown_postal_code(request, code[:32])
        error = {"code": "postal_code_unknown", "message": message}
        return Response({"error": error}, status_code=HTTP_404_NOT_FOUND)
    return Response({"prefecture": address.prefecture, "city": address.city})
