"""Which identity-document photos an application needs, and which sets of them fit.

A reviewer needs one identity document with every side its type needs (``documents``:
``required_sides``; an optional side, such as the back of Kashiwa's driver's licence, is
taken but never needed), and, for work or study, the document that shows the workplace or
school (the ``extra`` slot). Where the profile caps the files one application holds
(Yokohama: "Up to two files can be attached"), some identity documents cannot go with the
extra document: a health insurance card's two sides and an employee ID make three.

So that nobody is trapped with a full allowance and a missing document, :func:`check_upload`
refuses a photo that no fitting set can hold (``document_does_not_fit``, naming the types
that would fit) and a photo that would pass the cap (``document_too_many``, naming the
photos to remove first); and :func:`checklist` tells the page, before any upload, what is
still needed and which types fit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cardservice.profiles.schema import DocumentsSection, DocumentType
from cardservice.registration.documents import DocumentRejected, Side, required_sides

# The slot of the document showing the workplace or school (basis "works" or "studies").
EXTRA_DOCUMENT = "extra"
# A photo's slot: (doc_type, side), side "front" or "back".
Slot = tuple[str, str]
EXTRA_SLOT: Slot = (EXTRA_DOCUMENT, "front")


@dataclass(frozen=True, slots=True)
class Checklist:
    """What an application holds and still needs, for the documents and review pages.

    ``complete`` is the id of an identity type with every needed side attached (None: none
    yet); ``started`` maps each type begun but not complete to the sides it still needs;
    ``fitting`` and ``too_large`` split the profile's types by whether they fit the file cap
    together with the extra document when it is needed (``too_large`` is empty without a
    cap); ``crowding`` lists attached photos to remove before the extra document fits.
    """

    identity_needed: bool
    extra_needed: bool
    complete: str | None
    started: dict[str, tuple[Side, ...]]
    extra_attached: bool
    fitting: tuple[str, ...]
    too_large: tuple[str, ...]
    crowding: tuple[Slot, ...]
    max_files: int | None

    @property
    def missing(self) -> list[str]:
        """ "identity_document" and "extra_document", as far as each is still missing."""
        missing = []
        if self.identity_needed and self.complete is None:
            missing.append("identity_document")
        if self.extra_needed and not self.extra_attached:
            missing.append("extra_document")
        return missing

    @property
    def done(self) -> bool:
        return not self.missing


def files_needed(document: DocumentType, *, extra: bool) -> int:
    """Photos a complete set with ``document`` takes: its needed sides, plus one for the
    workplace or school document when ``extra``."""
    return len(required_sides(document)) + int(extra)


def fits(document: DocumentType, documents: DocumentsSection, *, extra: bool) -> bool:
    """Whether ``document``'s needed sides (and the extra document when ``extra``) fit the
    profile's ``max_files``; always True without a cap."""
    cap = documents.max_files
    return cap is None or files_needed(document, extra=extra) <= cap


def checklist(
    slots: Iterable[Slot], documents: DocumentsSection, *, identity: bool, extra: bool
) -> Checklist:
    """The :class:`Checklist` of an application holding ``slots`` ((doc_type, side) pairs),
    needing an identity document when ``identity`` and the extra document when ``extra``
    (``procedure_details.document_needs``)."""
    held = set(slots)
    complete = None
    started: dict[str, tuple[Side, ...]] = {}
    for kind in documents.types:
        needed = required_sides(kind)
        lacking = tuple(side for side in needed if (kind.id, side) not in held)
        if not lacking and complete is None:
            complete = kind.id
        elif lacking and any((kind.id, side) in held for side in ("front", "back")):
            started[kind.id] = lacking  # an optional side alone (a licence's back) counts
    fitting = tuple(t.id for t in documents.types if fits(t, documents, extra=extra))
    too_large = tuple(t.id for t in documents.types if not fits(t, documents, extra=extra))
    crowding: tuple[Slot, ...] = ()
    if extra and EXTRA_SLOT not in held:
        crowding = _to_remove(held, EXTRA_SLOT, documents, extra=True)
    return Checklist(
        identity_needed=identity,
        extra_needed=extra,
        complete=complete,
        started=started if complete is None else {},
        extra_attached=EXTRA_SLOT in held,
        fitting=fitting,
        too_large=too_large,
        crowding=crowding,
        max_files=documents.max_files,
    )


def check_upload(
    slots: Iterable[Slot], new: Slot, documents: DocumentsSection, *, extra: bool
) -> None:
    """Refuse the photo ``new`` when the application, holding ``slots``, could not then
    reach a complete set within ``documents.max_files`` (``extra``: the workplace or school
    document is needed too). A photo into a held slot replaces it, so it never counts twice.

    :class:`DocumentRejected` "document_does_not_fit" (``doc_type``, ``side``, ``needed``
    photos, ``max_files``, the ``fitting`` type ids): no complete set holding ``new`` fits
    at all. "document_too_many" (``max_files``, ``remove``: "type:side" of each photo to
    remove first): one would, once other photos are removed.
    """
    cap = documents.max_files
    if cap is None:
        return
    held = set(slots)
    if not _sets_with(new, documents, extra=extra):
        doc_type, side = new
        kind = next((t for t in documents.types if t.id == doc_type), None)
        needed = (files_needed(kind, extra=extra) if kind else 1) + int(
            kind is not None and side not in required_sides(kind)
        )
        raise DocumentRejected(
            code="document_does_not_fit",
            field="doc_type",
            doc_type=doc_type,
            side=side,
            needed=needed,
            max_files=cap,
            fitting=[t.id for t in documents.types if fits(t, documents, extra=extra)],
        )
    remove = _to_remove(held, new, documents, extra=extra)
    if remove:
        raise DocumentRejected(
            code="document_too_many",
            field="file",
            max_files=cap,
            remove=[f"{doc_type}:{side}" for doc_type, side in remove],
        )


def _sets_with(new: Slot, documents: DocumentsSection, *, extra: bool) -> list[set[Slot]]:
    """Every complete set holding ``new`` that fits the cap: an identity type's needed
    sides, ``new``, and the extra slot when it is needed or is ``new``."""
    doc_type, _ = new
    with_extra = extra or doc_type == EXTRA_DOCUMENT
    sets = []
    for kind in documents.types:
        if doc_type not in {kind.id, EXTRA_DOCUMENT}:
            continue
        members = {(kind.id, side) for side in required_sides(kind)} | {new}
        if with_extra:
            members.add(EXTRA_SLOT)
        if documents.max_files is None or len(members) <= documents.max_files:
            sets.append(members)
    return sets


def _to_remove(
    held: set[Slot], new: Slot, documents: DocumentsSection, *, extra: bool
) -> tuple[Slot, ...]:
    """The held photos to remove before ``new`` fits under the cap: those outside the
    fitting set that keeps most of what is held (the first such set in the profile's order
    of types); () when ``new`` fits as things are."""
    cap = documents.max_files
    sets = _sets_with(new, documents, extra=extra)
    if cap is None or len(held | {new}) <= cap or not sets:
        return ()
    keep = max(sets, key=lambda members: len(members & held))
    order = {t.id: index for index, t in enumerate(documents.types)}
    return tuple(
        sorted(held - keep, key=lambda slot: (order.get(slot[0], len(order)), slot[1] != "front"))
    )
