"""What the applicant's pages show, worked out without HTTP.

The pages (``registration/routes/``) stay thin: they call the applicant service, and this
module turns its answers and errors into what a page needs: the form's values to fill in,
each field's message in the page's language, what is still missing before submission.
Error texts follow the registration convention: every code has a Japanese and an English
text here or in the module that raises it; page prose lives in the templates' catalogs.
"""

from __future__ import annotations

from collections.abc import Mapping

from cardservice.errors import DomainError
from cardservice.patrons.models import Patron
from cardservice.registration import Messages, documents, eligibility, errors, localise, storage
from cardservice.registration.form import (
    FIELD_MESSAGES,
    NOTIFICATION_FIELDS,
    FieldError,
    FormErrors,
)
from cardservice.registration.japan import format_phone, format_postal_code
from cardservice.registration.models import Application
from cardservice.registration.procedure_details import NAME_FIELDS, NEW_NAME_FIELDS

# The application form's text fields, in the order the page shows them.
TEXT_FIELDS = (
    "family_name",
    "given_name",
    "family_kana",
    "given_kana",
    "birth_date",
    "postal_code",
    "prefecture",
    "city",
    "street",
    "building",
    "phone",
    "workplace_or_school",
)
# A reissue's own fields (procedure_details.parse_reissue); the checkbox is "on" or "".
REISSUE_FIELDS = ("reissue_reason", "eloan_acknowledged", *NEW_NAME_FIELDS)
CHECKBOX_ON = "on"

# Answers that mean "not online; come to the counter": shown at the top of the form, not
# only next to their field, since no change to the form would fix them. The last one is a
# card holder's new registration under procedures.registered_to_counter. An unknown postal
# code is not one of them: it is nearly always a typo, fixed in the field its error stands by.
COUNTER_CODES = frozenset({"counter_adjacent_city", "not_resident", "already_registered"})

MESSAGES: Messages = {
    "email_invalid": {
        "ja": "メールアドレスを正しく入力してください（例：hanako@example.jp）。",
        "en": "Enter a valid email address (for example hanako@example.jp).",
    },
    "consent_required": {
        "ja": "注意事項をお読みのうえ、「同意する」にチェックを入れてください。",
        "en": "Please read the notes and tick the box to agree.",
    },
    "file_missing": {
        "ja": "添付するファイルを選んでください。",
        "en": "Choose a file to attach.",
    },
    "request_too_large": {
        "ja": "ファイルが大きすぎます（上限{max_mb}MB）。"
        "上限を超える場合は窓口で申請してください。",
        "en": "The file is too large (at most {max_mb} MB). "
        "If you cannot make it smaller, please apply at the counter.",
    },
    "link_used": {
        "ja": "このリンクはすでに使用されています。リンクは1回だけ使えます。",
        "en": "This link has already been used. Each link works only once.",
    },
    "link_expired": {
        "ja": "このリンクは有効期限が切れています。",
        "en": "This link has expired.",
    },
    "link_unknown": {
        "ja": "このリンクは無効です。"
        "メールに記載されたリンクを、途中で切れていないか確認してください。",
        "en": "This link is not valid. Check that the whole link from the email was opened.",
    },
    "link_wrong_purpose": {
        "ja": "このリンクは、このページのためのものではありません。",
        "en": "This link is for something else.",
    },
    "link_superseded": {
        "ja": "このリンクは使用できなくなりました。",
        "en": "This link no longer works.",
    },
}

# Every code a page of the applicant can show next to a field, with its texts.
PAGE_MESSAGES: Messages = {
    **FIELD_MESSAGES,
    **eligibility.MESSAGES,
    **documents.MESSAGES,
    **storage.MESSAGES,
    **errors.MESSAGES,
    **MESSAGES,
}


def text(code: str, lang: str, **params: object) -> str:
    """The page's text for an error ``code`` in ``lang``, filled from ``params``."""
    texts = localise(PAGE_MESSAGES, code, **params)
    return texts["en"] if lang == "en" else texts["ja"]


def error_text(exc: DomainError, lang: str) -> str:
    """A domain error in the page's language; its English message if it has no texts."""
    if exc.code in PAGE_MESSAGES:
        return text(exc.code, lang, **exc.detail)
    return exc.message


def error_field(exc: DomainError, default: str) -> str:
    field = exc.detail.get("field")
    return field if isinstance(field, str) and field else default


def field_errors(
    exc: FormErrors, lang: str, words: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Each field's message (the first, if a field has more than one). ``words`` holds the
    page catalog's text, in ``lang``, of the codes that carry no texts of their own."""
    found: dict[str, str] = {}
    for error in exc.errors:
        found.setdefault(error.field, _worded(error, lang, words or {}))
    return found


def counter_messages(
    exc: FormErrors, lang: str, words: Mapping[str, str] | None = None
) -> list[str]:
    """The "apply at the counter" answers among the errors, for the top of the page."""
    return [_worded(e, lang, words or {}) for e in exc.errors if e.code in COUNTER_CODES]


def _worded(error: FieldError, lang: str, words: Mapping[str, str]) -> str:
    if error.code in words:
        return words[error.code] % dict(error.params)
    return error.en if lang == "en" else error.ja


def blank_form(email: str, procedure: str = "new") -> dict[str, str]:
    values = dict.fromkeys((*TEXT_FIELDS, *NOTIFICATION_FIELDS, *REISSUE_FIELDS), "")
    return {**values, "procedure": procedure, "basis": "", "email": email}


def form_values(app: Application, patron: Patron | None = None) -> dict[str, str]:
    """The form as saved on the draft, ready to fill in again (never the password); for a
    draft a logged-in patron started and has not saved yet, the patron's details."""
    values = blank_form(app.email, app.procedure or "new")
    if app.birth_date is None:
        return values if patron is None else patron_values(values, patron)
    for name in TEXT_FIELDS:
        values[name] = str(getattr(app, name) or "")
    values["basis"] = app.basis
    values["birth_date"] = app.birth_date.isoformat()
    values["postal_code"] = format_postal_code(app.postal_code) if app.postal_code else ""
    values["phone"] = format_phone(app.phone) if app.phone else ""
    chosen = app.notifications or {}
    for key, name in NOTIFICATION_FIELDS.items():
        values[key] = CHECKBOX_ON if chosen.get(name) else ""
    if app.reissue_reason:
        values.update(_reissue_values(app))
    return values


def _reissue_values(app: Application) -> dict[str, str]:
    """A saved reissue: for a name change the application's name is the new one (the
    ``new_*`` fields), and the name as registered is the patron's or, without login,
    ``previous["former_name"]``."""
    values = {
        "reissue_reason": app.reissue_reason or "",
        "eloan_acknowledged": CHECKBOX_ON if app.eloan_acknowledged_at else "",
    }
    if app.reissue_reason == "name_changed":
        former = (app.previous or {}).get("former_name") or {}
        for key, name in NEW_NAME_FIELDS.items():
            values[key] = str(getattr(app, name) or "")
            if former:
                values[name] = str(former.get(name, ""))
    return values


def patron_values(values: dict[str, str], patron: Patron) -> dict[str, str]:
    """``values`` with the patron's name, birth date, address, phone and basis."""
    filled = dict(values)
    for name in (*NAME_FIELDS, "prefecture", "city", "street", "building", "workplace_or_school"):
        filled[name] = str(getattr(patron, name) or "")
    filled["birth_date"] = patron.birth_date.isoformat()
    filled["postal_code"] = format_postal_code(patron.postal_code) if patron.postal_code else ""
    filled["phone"] = format_phone(patron.phone) if patron.phone else ""
    filled["basis"] = patron.eligibility_basis or ""
    return filled


def typed_values(raw: Mapping[str, str], email: str) -> dict[str, str]:
    """What the applicant typed, to show again after an error (never the password)."""
    values = blank_form(email)
    for name in values:
        if name != "email" and name in raw:
            values[name] = raw[name]
    return values
