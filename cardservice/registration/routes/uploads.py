"""Image uploads on the applicant's pages: the slot and the per-application allowance are
checked first, then the image is checked and re-encoded in the image pool, all before the
transaction that stores it opens (so no write lock is held while an image is decoded).

A file part sent without a file name (``filename=""`` or none) is not a file: when its bytes
are text it reaches the handler as a text field (:func:`sent_without_name`); when they are
not, the form cannot be read at all (``web.limits.FormUnreadable``) and :func:`unreadable_upload`
sends the applicant back to the page, which says so next to the file field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from litestar import Response
from litestar.datastructures import UploadFile

from cardservice.registration.documents import CleanImage
from cardservice.registration.images import ImagePool
from cardservice.registration.routes.common import AnyRequest, see_other
from cardservice.registration.storage import check_slot
from cardservice.web.state import services

# The query flag of a page reached after a form whose file part had no name.
UNNAMED_FLAG: Final = "unnamed"


def image_pool(request: AnyRequest) -> ImagePool:
    """The app's image pool (started and stopped by the app's lifespan)."""
    pool: ImagePool = request.app.state["images"]
    return pool


@dataclass(frozen=True, slots=True)
class Upload:
    """A chosen file, not read yet: the pool reads it once it has a place for it."""

    file: UploadFile
    filename: str
    limit: int  # the profile's documents.max_bytes

    async def read(self) -> bytes:
        """The bytes, at most one past the limit (enough to refuse the file as too large)."""
        return await self.file.read(self.limit + 1)


def chosen_file(request: AnyRequest, value: object) -> Upload | None:
    """The file of a file field; None when no file was chosen (or it came without a name)."""
    if not isinstance(value, UploadFile) or not value.filename:
        return None
    limit = services(request).settings.profile.documents.max_bytes
    return Upload(value, value.filename, limit)


async def checked_image(
    request: AnyRequest, *, public_id: str, doc_type: str, side: str, upload: Upload
) -> CleanImage:
    """The upload, checked and re-encoded in the pool; ``DocumentRejected`` otherwise."""
    documents = services(request).settings.profile.documents
    check_slot(documents, doc_type, side)
    return await image_pool(request).clean(
        upload.read,
        documents=documents,
        filename=upload.filename,
        where=f"application {public_id}, {doc_type} {side}",
    )


def sent_without_name(value: object) -> bool:
    """A file field that arrived as text with something in it: a file part without a name."""
    return isinstance(value, str) and value != ""


def unreadable_upload(request: AnyRequest, _: Exception) -> Response[Any]:
    """A form whose nameless file part is not text: back to the page, which says why."""
    return see_other(f"{request.url.path}?upload={UNNAMED_FLAG}")
