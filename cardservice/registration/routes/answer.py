"""The applicant's answer to a staff question, through the link in the email."""

from __future__ import annotations

from litestar import get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_409_CONFLICT,
)

from cardservice.errors import InvalidInput
from cardservice.registration import inquiries, steps
from cardservice.registration.document_rules import EXTRA_DOCUMENT
from cardservice.registration.documents import (
    MY_NUMBER_BACK_WARNING,
    SIDE_NAMES,
    STORED_LONG_SIDE,
    upload_guides,
)
from cardservice.registration.errors import (
    InquiryNotOpen,
)
from cardservice.registration.routes.common import (
    UPLOAD_BODY_LIMIT,
    UPLOAD_ERRORS,
    AnyRequest,
    form_field,
    link_refused,
    megabytes,
    see_other,
    upload_field,
)
from cardservice.registration.routes.uploads import (
    UNNAMED_FLAG,
    checked_image,
    chosen_file,
    sent_without_name,
    unreadable_upload,
)
from cardservice.registration.storage import allow_upload
from cardservice.security.links import LinkInvalid
from cardservice.web.i18n import language, switching_language
from cardservice.web.limits import FormUnreadable
from cardservice.web.pages import date_text, error_page, render
from cardservice.web.state import secrets, services

# --- inquiries: the applicant's answer --------------------------------------------------


async def _answer_page(
    request: AnyRequest,
    token: str,
    *,
    answer: str = "",
    error: str = "",
    error_field: str = "",
    status_code: int = 200,
) -> Template:
    profile = services(request).settings.profile
    lang = language(request)
    try:
        async with services(request).db.transaction() as session:
            inquiry = await inquiries.open_inquiry(session, token)
    except LinkInvalid as exc:
        return link_refused(request, exc, start_again=False)
    return render(
        request,
        "pages/apply/answer.html",
        status_code=status_code,
        token=token,
        inquiry=inquiry,
        answer_by=date_text(request, inquiry.answer_by, weekday=True),
        answer=answer,
        max_answer=inquiries.ANSWER_MAX,
        guides=upload_guides(profile.documents),
        extra_type=EXTRA_DOCUMENT,
        side_names={side: names[lang] for side, names in SIDE_NAMES.items()},
        limits=profile.documents,
        max_mb=megabytes(profile.documents.max_bytes),
        stored_long_side=STORED_LONG_SIDE,  # the size photo.js shrinks photos to
        my_number_warning=MY_NUMBER_BACK_WARNING[lang],
        error=error,
        error_field=error_field,
    )


@get("/apply/answer/{token:str}", name="apply_answer")
async def answer_page(request: AnyRequest, token: FromPath[str]) -> Template:
    if request.query_params.get("upload") == UNNAMED_FLAG:  # see routes.uploads
        error = steps.text("document_unnamed", language(request))
        return await _answer_page(request, token, error=error, error_field="file")
    return await _answer_page(request, token)


@post(
    "/apply/answer/{token:str}",
    name="apply_send_answer",
    request_max_body_size=UPLOAD_BODY_LIMIT,
    exception_handlers={**UPLOAD_ERRORS, FormUnreadable: unreadable_upload},
)
async def send_answer(request: AnyRequest, token: FromPath[str]) -> Template | Redirect:
    form = await request.form()
    written = form_field(form.get("answer"))
    if await switching_language(request):  # the answer as written, in the new language; not sent
        return await _answer_page(request, token, answer=written)
    upload = chosen_file(request, form.get("file"))
    lang = language(request)
    if upload is None and sent_without_name(form.get("file")):
        return await _answer_page(
            request,
            token,
            answer=written,
            error=steps.text("document_unnamed", lang),
            error_field="file",
            status_code=HTTP_400_BAD_REQUEST,
        )
    try:
        document = None
        if upload is not None:  # checked in the image pool before the transaction opens
            doc_type, side = form_field(form.get("doc_type")), form_field(form.get("side"))
            async with services(request).db.transaction() as session:
                public_id = (await inquiries.open_inquiry(session, token)).public_id
                await allow_upload(session, public_id)
            image = await checked_image(
                request, public_id=public_id, doc_type=doc_type, side=side or "front", upload=upload
            )
            document = inquiries.AnswerDocument(doc_type, side or "front", image)
        async with services(request).db.transaction() as session:
            await inquiries.answer(
                session,
                token,
                written,
                profile=services(request).settings.profile,
                document_key=secrets(request).document_key,
                document=document,
            )
    except LinkInvalid as exc:
        return link_refused(request, exc, start_again=False)
    except InquiryNotOpen as exc:
        message = steps.error_text(exc, lang)
        return error_page(request, status_code=HTTP_409_CONFLICT, message=message, code=exc.code)
    except InvalidInput as exc:  # rolled back: the link still works for a corrected answer
        return await _answer_page(
            request,
            token,
            answer=written,
            error=steps.error_text(exc, lang),
            error_field=upload_field(exc),
            status_code=HTTP_400_BAD_REQUEST,
        )
    return see_other("/apply/answered")


@get("/apply/answered", name="apply_answered")
async def answered(request: AnyRequest) -> Template:
    return render(request, "pages/apply/answered.html")
