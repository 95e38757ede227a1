"""The applicant's side of online registration and of the procedures on an existing card
(reissue, renewal, change of details), step by step: email link or a logged-in start, draft,
consent (``drafts``); form, documents, submission (``submission``). This module names them
in one place for the pages and the tests: ``applicant.save_form(...)``.
"""

from __future__ import annotations

from cardservice.registration.drafts import (
    get_application,
    linked_patron,
    open_application,
    record_consent,
    request_link,
    start_procedure,
    verify_link,
)
from cardservice.registration.procedure_details import DocumentNeeds
from cardservice.registration.submission import (
    add_document,
    documents_needed,
    hash_ahead,
    missing_parts,
    remove_document,
    save_form,
    submit,
)

__all__ = [
    "DocumentNeeds",
    "add_document",
    "documents_needed",
    "get_application",
    "hash_ahead",
    "linked_patron",
    "missing_parts",
    "open_application",
    "record_consent",
    "remove_document",
    "request_link",
    "save_form",
    "start_procedure",
    "submit",
    "verify_link",
]
