"""Identity-document images at rest: which slots an application has, and their ciphertext.

A slot is a document type and a side: ("health_insurance", "back"), or ("extra", "front")
for the document that shows a workplace or school. Uploading into a filled slot replaces
the image there, so a retaken photo never counts against the file limit.

Each image arrives checked and re-encoded (``images.ImagePool``, before the transaction
opens: the re-encoding never holds a write lock), and is encrypted here with AES-256-GCM
under the document key, the application's public id and the row id as associated data: a
ciphertext copied to another row or application does not decrypt.

Uploads are throttled per application (:func:`allow_upload`): every attempt counts, refused
ones too, so that nobody can keep the image workers busy with one application.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.profiles.schema import DocumentsSection
from cardservice.registration import Messages, document_rules
from cardservice.registration.document_rules import checklist
from cardservice.registration.documents import (
    CleanImage,
    DocumentRejected,
    accepted_sides,
    check_file_count,
)
from cardservice.registration.errors import DocumentNotFound, DocumentPurged
from cardservice.registration.models import Application, ApplicationDocument
from cardservice.security import ratelimit
from cardservice.security.crypto import decrypt, encrypt

# The slot of the workplace or school document, named where its rules are (document_rules).
EXTRA_DOCUMENT: Final = document_rules.EXTRA_DOCUMENT
# Images one application may send per hour, accepted or refused: enough to retake every
# side of every document several times, few enough that one draft cannot keep the image
# workers busy.
UPLOADS_PER_HOUR = 30
UPLOAD_BUCKET = "document_upload"

MESSAGES: Messages = {
    "document_type_invalid": {
        "ja": "本人確認書類の種類を一覧から選んでください。",
        "en": "Choose the kind of identity document from the list.",
    },
    "document_side_invalid": {
        "ja": "この書類は、おもて面だけを添付してください。",
        "en": "Attach the front of this document only.",
    },
    "document_upload_limit": {
        "ja": "この申請では短時間に多くの画像が送られました（1時間に{limit}点まで）。"
        "しばらくたってからもう一度添付してください。",
        "en": "Many images were sent for this application in a short time (at most {limit} "
        "an hour). Please wait a while and attach it again.",
    },
}


def document_aad(public_id: str, document_id: int) -> bytes:
    return f"application-document\0{public_id}\0{document_id}".encode()


def check_slot(documents: DocumentsSection, doc_type: str, side: str) -> None:
    """Refuse an unknown type, and a side the type does not take (this is what keeps the
    back of a My Number card out); an optional side is taken."""
    if doc_type == EXTRA_DOCUMENT:
        sides: tuple[str, ...] = ("front",)
    else:
        by_id = {t.id: t for t in documents.types}
        if doc_type not in by_id:
            raise DocumentRejected(code="document_type_invalid", field="doc_type")
        sides = accepted_sides(by_id[doc_type])
    if side not in sides:
        raise DocumentRejected(code="document_side_invalid", field="side", doc_type=doc_type)


async def allow_upload(
    session: AsyncSession, public_id: str, *, now: datetime | None = None
) -> None:
    """Count one upload for the application ``public_id``; :class:`DocumentRejected`
    "document_upload_limit" past ``UPLOADS_PER_HOUR`` in a sliding hour
    (``security.ratelimit``)."""
    allowed = await ratelimit.hit(
        session,
        UPLOAD_BUCKET,
        public_id,
        limit=UPLOADS_PER_HOUR,
        window=timedelta(hours=1),
        now=now,
    )
    if not allowed:
        raise DocumentRejected(code="document_upload_limit", field="file", limit=UPLOADS_PER_HOUR)


async def list_documents(session: AsyncSession, app: Application) -> list[ApplicationDocument]:
    rows = await session.scalars(
        select(ApplicationDocument)
        .where(ApplicationDocument.application_id == app.id)
        .order_by(ApplicationDocument.id)
    )
    return list(rows)


async def store_document(
    session: AsyncSession,
    app: Application,
    *,
    doc_type: str,
    side: str,
    image: CleanImage,
    documents: DocumentsSection,
    document_key: bytes,
    now: datetime,
    counted: bool = True,
) -> ApplicationDocument:
    """Encrypt and store one checked image (``images.ImagePool.clean``) in its slot, in the
    caller's transaction; :class:`DocumentRejected` for a wrong slot or, when ``counted``,
    one file too many. An answer to a reviewer's question is not counted: it brings the
    photo the reviewer asked for, and the applicant can no longer remove any."""
    check_slot(documents, doc_type, side)
    existing = await list_documents(session, app)
    replaced = [d for d in existing if (d.doc_type, d.side) == (doc_type, side)]
    if counted:
        check_file_count(len(existing) - len(replaced), documents)
    for old in replaced:
        await session.delete(old)
    row = ApplicationDocument(
        application_id=app.id,
        doc_type=doc_type,
        side=side,
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        created_at=now,
    )
    session.add(row)
    await session.flush()  # the id is part of the associated data
    row.ciphertext = encrypt(document_key, image.data, aad=document_aad(app.public_id, row.id))
    await session.flush()
    return row


async def get_document(
    session: AsyncSession, app: Application, document_id: int
) -> ApplicationDocument:
    row = await session.get(ApplicationDocument, document_id)
    if row is None or row.application_id != app.id:
        raise DocumentNotFound(document_id=document_id)
    return row


def decrypt_document(app: Application, row: ApplicationDocument, keys: bytes) -> bytes:
    if row.ciphertext is None:
        raise DocumentPurged(document_id=row.id)
    return decrypt(keys, row.ciphertext, aad=document_aad(app.public_id, row.id))


def missing_documents(
    rows: Iterable[ApplicationDocument],
    documents: DocumentsSection,
    *,
    needs_extra: bool,
    needs_identity: bool = True,
) -> list[str]:
    """What is still missing: "identity_document" (no type has every side it needs, when
    the procedure needs one; optional sides are never needed) and "extra_document" (work or
    study without the second document); see ``document_rules.checklist``."""
    slots = [(row.doc_type, row.side) for row in rows]
    return checklist(slots, documents, identity=needs_identity, extra=needs_extra).missing
