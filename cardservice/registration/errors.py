"""The application pipeline's errors; each ``code`` is part of the public contract.

Every code has a Japanese and an English text in :data:`MESSAGES`, for the pages.
"""

from __future__ import annotations

from cardservice.errors import Conflict, InvalidInput, NotFound
from cardservice.registration import Messages

MESSAGES: Messages = {
    "application_not_found": {
        "ja": "申請が見つかりません。",
        "en": "The application was not found.",
    },
    "application_not_editable": {
        "ja": "この申請は送信済みのため、変更できません。",
        "en": "This application has been submitted and can no longer be changed.",
    },
    "application_incomplete": {
        "ja": "申請に足りないものがあります（注意事項への同意、申請内容、本人確認書類）。",
        "en": "The application is not complete yet (consent, details, identity documents).",
    },
    "consent_version_invalid": {
        "ja": "注意事項が更新されました。最新の注意事項をお読みのうえ、同意してください。",
        "en": "The notes have changed. Please read the current notes and agree to them.",
    },
    "application_already_decided": {
        "ja": "この申請は処理済みです。",
        "en": "This application has already been decided.",
    },
    "application_not_reviewable": {
        "ja": "この申請は、いまは審査できる状態ではありません。",
        "en": "This application cannot be decided in its current state.",
    },
    "document_not_found": {
        "ja": "書類の画像が見つかりません。",
        "en": "The document image was not found.",
    },
    "document_purged": {
        "ja": "書類の画像は保存期間を過ぎたため削除されました。",
        "en": "The document image was deleted after its retention period.",
    },
    "rejection_reason_invalid": {
        "ja": "お断りの理由を、定型文から選ぶか入力してください。",
        "en": "Choose a reason from the list or write one.",
    },
    "inquiry_text_invalid": {
        "ja": "本文を入力してください（{max}文字以内）。",
        "en": "Write the text (at most {max} characters).",
    },
    "inquiry_not_open": {
        "ja": "このご質問には、すでに回答済みか、回答の期限を過ぎています。",
        "en": "This question has already been answered or its deadline has passed.",
    },
}


class ApplicationNotFound(NotFound):
    """The application was not found."""

    code = "application_not_found"


class ApplicationNotEditable(Conflict):
    """Only a draft application can be changed."""

    code = "application_not_editable"


class ApplicationIncomplete(InvalidInput):
    """Consent, the form or documents are missing; ``missing`` lists which."""

    code = "application_incomplete"


class ConsentVersionInvalid(InvalidInput):
    """The consent is not for the current version of the notes."""

    code = "consent_version_invalid"


class ApplicationAlreadyDecided(Conflict):
    """The application has already been approved, rejected or cancelled."""

    code = "application_already_decided"


class ApplicationNotReviewable(Conflict):
    """The application is not waiting for a decision (a draft, or waiting for an answer)."""

    code = "application_not_reviewable"


class DocumentNotFound(NotFound):
    """No such document on this application."""

    code = "document_not_found"


class DocumentPurged(NotFound):
    """The image was deleted after its retention period; the metadata remains."""

    code = "document_purged"


class RejectionReasonInvalid(InvalidInput):
    """A rejection needs an active template or a written reason."""

    code = "rejection_reason_invalid"


class RejectionReasonInvisible(RejectionReasonInvalid):
    """A written reason holds a control or format character nobody sees; said as such."""

    code = "control_characters"


class InquiryTextInvalid(InvalidInput):
    """A question or an answer is empty or too long."""

    code = "inquiry_text_invalid"


class InquiryTextInvisible(InquiryTextInvalid):
    """A question or an answer holds a control or format character nobody sees (a
    zero-width space or a direction mark pasted with the text): said as such, with the
    form's own words, not as a text that is empty or too long."""

    code = "control_characters"


class InquiryNotOpen(Conflict):
    """The inquiry was answered already, or the application moved on."""

    code = "inquiry_not_open"
