"""An application's ID image, decrypted for the reviewer, never cached."""

from __future__ import annotations

from litestar import Response, get
from litestar.params import FromPath
from litestar.response import Template

from cardservice.registration import errors, review
from cardservice.registration.applicant import get_application
from cardservice.registration.review_routes.admin import row_id
from cardservice.registration.review_routes.common import APPLICATIONS, AnyRequest
from cardservice.staff.models import Role
from cardservice.web.staff import current_staff
from cardservice.web.state import secrets, services


@get(
    f"{APPLICATIONS}/{{public_id:str}}/documents/{{document_id:int}}",
    name="staff_application_document",
)
async def document_image(
    request: AnyRequest, public_id: FromPath[str], document_id: FromPath[int]
) -> Response[bytes] | Template:
    staff = await current_staff(request, Role.REVIEWER)
    if row_id(document_id) is None:
        raise errors.DocumentNotFound(document_id=document_id)
    async with services(request).db.transaction() as session:
        app = await get_application(session, public_id)
        content_type, image = await review.document_image(
            session, app, document_id, staff=staff, document_key=secrets(request).document_key
        )
    return Response(
        image,
        media_type=content_type,
        headers={"Cache-Control": "no-store", "Content-Disposition": "inline"},
    )
