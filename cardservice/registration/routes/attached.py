"""A preview of a photo the applicant attached, for the documents page; to the session that
holds the draft and to nobody else.

The image is decrypted only for the session whose draft owns it: another session, a session
without a draft, or one whose application was submitted gets the same 404 as a document that
never existed. The preview is made in a worker thread and never cached (``no-store``).
"""

from __future__ import annotations

import anyio.to_thread
from litestar import Response, get
from litestar.params import FromPath

from cardservice.db.base import ID_MAX
from cardservice.registration.errors import DocumentNotFound
from cardservice.registration.routes.common import (
    AnyRequest,
    NoApplication,
    NotDraft,
    draft_application,
)
from cardservice.registration.storage import decrypt_document, get_document
from cardservice.registration.thumbnails import thumbnail
from cardservice.web.state import secrets, services


@get("/apply/documents/{document_id:int}/image", name="apply_document_image")
async def attached_image(request: AnyRequest, document_id: FromPath[int]) -> Response[bytes]:
    """The preview as JPEG (``thumbnails.thumbnail``); :class:`DocumentNotFound` (404) for
    a photo that is not this session's draft's."""
    if not 0 < document_id <= ID_MAX:
        raise DocumentNotFound(document_id=document_id)
    try:
        async with services(request).db.read() as session:
            app = await draft_application(request, session)
            row = await get_document(session, app, document_id)
            plain = decrypt_document(app, row, secrets(request).document_key)
    except (NoApplication, NotDraft):
        raise DocumentNotFound(document_id=document_id) from None
    preview = await anyio.to_thread.run_sync(thumbnail, plain)
    return Response(
        preview,
        media_type="image/jpeg",
        headers={"Cache-Control": "no-store", "Content-Disposition": "inline"},
    )
