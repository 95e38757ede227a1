"""What the documents page says about the document rules (``registration.document_rules``):
the domain gives codes, type ids and slots; this picks the words from the page catalog and
the names from the profile, in the page's language."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from cardservice.errors import InvalidInput
from cardservice.profiles.schema import DocumentsSection
from cardservice.registration import steps
from cardservice.registration.document_rules import EXTRA_DOCUMENT, Checklist
from cardservice.registration.documents import SIDE_NAMES, required_sides
from cardservice.web.i18n import N_, Lang, gettext

EXTRA_NAME: Final = N_("Document showing your workplace or school")
DOES_NOT_FIT: Final = N_(
    "This document (%(document)s) needs %(photos)s photos, and with the document showing "
    "your workplace or school that makes %(needed)s, but at most %(max_files)s files can be "
    "sent online. Use one of these instead: %(fitting)s. If you have none of them, please "
    "apply at a library counter."
)
DOES_NOT_FIT_ALONE: Final = N_(
    "This document (%(document)s) needs %(photos)s photos, but at most %(max_files)s files "
    "can be sent online. Use one of these instead: %(fitting)s."
)
OPTIONAL_SIDE_DOES_NOT_FIT: Final = N_(
    "There is no room for the %(side)s of this document (%(document)s): at most "
    "%(max_files)s files can be sent online, and it is needed only in some cases. Attach the "
    "other side only, or use one of these instead: %(fitting)s."
)
TOO_MANY: Final = N_(
    "At most %(max_files)s files can be sent online. First remove %(remove)s under "
    "\u201cAttached\u201d, then attach this photo again."
)


def separator(lang: Lang) -> str:
    return ", " if lang == "en" else "、"


def type_name(documents: DocumentsSection, doc_type: str, lang: Lang) -> str:
    if doc_type == EXTRA_DOCUMENT:
        return gettext(lang, EXTRA_NAME)
    kind = next((t for t in documents.types if t.id == doc_type), None)
    return kind.name.get(lang) if kind else doc_type


def side_name(side: str, lang: Lang) -> str:
    for key, texts in SIDE_NAMES.items():
        if key == side:
            return texts[lang]
    return side


def slot_name(documents: DocumentsSection, doc_type: str, side: str, lang: Lang) -> str:
    """ "健康保険証（うら）", "Health insurance card (back)"."""
    name = type_name(documents, doc_type, lang)
    shown = side_name(side, lang)
    return f"{name} ({shown})" if lang == "en" else f"{name}（{shown}）"


def names(documents: DocumentsSection, doc_types: Iterable[str], lang: Lang) -> str:
    return separator(lang).join(type_name(documents, t, lang) for t in doc_types)


def slot_names(documents: DocumentsSection, slots: Iterable[tuple[str, str]], lang: Lang) -> str:
    return separator(lang).join(slot_name(documents, t, s, lang) for t, s in slots)


def upload_error_text(exc: InvalidInput, lang: Lang, documents: DocumentsSection) -> str:
    """The message of a refused upload: the document rules' codes here, the others through
    ``steps.error_text``."""
    detail: dict[str, Any] = exc.detail
    if exc.code == "document_does_not_fit":
        doc_type, side = str(detail["doc_type"]), str(detail["side"])
        kind = next((t for t in documents.types if t.id == doc_type), None)
        params = {
            "document": type_name(documents, doc_type, lang),
            "max_files": detail["max_files"],
            "needed": detail["needed"],
            "fitting": names(documents, detail["fitting"], lang),
            "photos": len(required_sides(kind)) if kind else 1,
            "side": side_name(side, lang),
        }
        if kind is not None and side not in required_sides(kind):
            template = OPTIONAL_SIDE_DOES_NOT_FIT
        elif int(detail["needed"]) > params["photos"]:
            template = DOES_NOT_FIT
        else:
            template = DOES_NOT_FIT_ALONE
        return gettext(lang, template) % params
    if exc.code == "document_too_many" and detail.get("remove"):
        slots = [str(item).partition(":")[::2] for item in detail["remove"]]
        remove = slot_names(documents, slots, lang)
        return gettext(lang, TOO_MANY) % {"max_files": detail["max_files"], "remove": remove}
    return steps.error_text(exc, lang)


def checklist_texts(
    checklist: Checklist, documents: DocumentsSection, lang: Lang
) -> dict[str, Any]:
    """The names the page's checklist shows, in ``lang``: the complete identity document,
    each begun one with the sides it still needs, the types that fit and those that do not,
    and the photos to remove before the workplace or school document fits."""
    return {
        "complete_name": type_name(documents, checklist.complete, lang)
        if checklist.complete
        else "",
        "started": [
            (
                type_name(documents, doc_type, lang),
                separator(lang).join(side_name(side, lang) for side in sides),
            )
            for doc_type, sides in checklist.started.items()
        ],
        "fitting_names": names(documents, checklist.fitting, lang),
        "too_large_names": names(documents, checklist.too_large, lang),
        "crowding_names": slot_names(documents, checklist.crowding, lang),
    }
