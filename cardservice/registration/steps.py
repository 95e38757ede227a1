"""What the applicant's pages show, worked out without HTTP.

The pages (``registration/routes/``) stay thin: they call the applicant service, and this
module turns its answers and errors into what a page needs: the form's values to fill in,
each field's message in the page's language, what is still missing before submission.
Error texts follow the registration convention: every code has a Japanese and an English
text here or in the module that raises it; page prose lives in the templates' catalogs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from babel.dates import format_date

from cardservice.errors import DomainError
from cardservice.registration import Messages, documents, eligibility, errors, localise, storage
from cardservice.registration.form import FIELD_MESSAGES, NOTIFICATION_FIELDS, FormErrors
from cardservice.registration.japan import format_phone, format_postal_code
from cardservice.registration.models import Application

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
CHECKBOX_ON = "on"

# Eligibility answers that mean "not online; come to the counter": shown at the top of the
# form, not only next to their field, since no change to the form would fix them.
COUNTER_CODES = frozenset({"counter_adjacent_city", "not_resident", "postal_code_unknown"})

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
        "ja": "ファイルが大きすぎます（上限 {max_mb}MB）。"
        "上限を超える場合は窓口でお申し込みください。",
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


def field_errors(exc: FormErrors, lang: str) -> dict[str, str]:
    """Each field's message (the first, if a field has more than one)."""
    found: dict[str, str] = {}
    for error in exc.errors:
        found.setdefault(error.field, error.en if lang == "en" else error.ja)
    return found


def counter_messages(exc: FormErrors, lang: str) -> list[str]:
    """The "apply at the counter" answers among the errors, for the top of the page."""
    return [e.en if lang == "en" else e.ja for e in exc.errors if e.code in COUNTER_CODES]


def blank_form(email: str) -> dict[str, str]:
    values = dict.fromkeys((*TEXT_FIELDS, *NOTIFICATION_FIELDS), "")
    return {**values, "procedure": "new", "basis": "", "email": email}


def form_values(app: Application) -> dict[str, str]:
    """The form as saved on the draft, ready to fill in again (never the password)."""
    values = blank_form(app.email)
    if not app.has_form:
        return values
    for name in TEXT_FIELDS:
        values[name] = str(getattr(app, name) or "")
    values["procedure"] = app.procedure
    values["basis"] = app.basis
    values["birth_date"] = app.birth_date.isoformat() if app.birth_date else ""
    values["postal_code"] = format_postal_code(app.postal_code) if app.postal_code else ""
    values["phone"] = format_phone(app.phone) if app.phone else ""
    chosen = app.notifications or {}
    for key, name in NOTIFICATION_FIELDS.items():
        values[key] = CHECKBOX_ON if chosen.get(name) else ""
    return values


def typed_values(raw: Mapping[str, str], email: str) -> dict[str, str]:
    """What the applicant typed, to show again after an error (never the password)."""
    values = blank_form(email)
    for name in values:
        if name != "email" and name in raw:
            values[name] = raw[name]
    return values


def long_date(day: date, lang: str) -> str:
    """2026年4月5日日曜日 / Sunday, 5 April 2026."""
    return format_date(day, format="full", locale="en_GB" if lang == "en" else "ja_JP")
