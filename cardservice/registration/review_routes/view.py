"""How an application reads on the review page: labels in the page's language for the
form's values and the procedure, the ID images' types and sides, a procedure's checks and
candidate patrons, and the outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from litestar import Request

from cardservice.calendar import age_on, japanese_era_date, written_date
from cardservice.cards.models import CardStatus
from cardservice.profiles.schema import Profile
from cardservice.registration import inquiries
from cardservice.registration.candidates import EMAIL, NAME_BIRTH, PHONE, CandidateCard
from cardservice.registration.checks import CardNow, ProcedureChecks
from cardservice.registration.documents import SIDE_NAMES
from cardservice.registration.japan import format_phone, format_postal_code
from cardservice.registration.models import Application, ApplicationStatus
from cardservice.registration.queue import DocumentInfo
from cardservice.registration.storage import EXTRA_DOCUMENT
from cardservice.staff.models import AuditEntry
from cardservice.web.i18n import N_, language
from cardservice.web.pages import translate

STATUS_LABELS: Final = {
    ApplicationStatus.DRAFT: N_("Draft (not submitted)"),
    ApplicationStatus.SUBMITTED: N_("Waiting for review"),
    ApplicationStatus.INQUIRY: N_("Waiting for the applicant's answer"),
    ApplicationStatus.APPROVED: N_("Approved"),
    ApplicationStatus.REJECTED: N_("Rejected"),
    ApplicationStatus.CANCELLED: N_("Cancelled"),
}
PROCEDURE_LABELS: Final = {
    "new": N_("New registration"),
    "reissue": N_("Reissue"),
    "renewal": N_("Renewal"),
    "change": N_("Change of details"),
}
# A reissue is labelled by its reason (Kashiwa: 紛失, 氏名の変更); "Reissue" for one without.
REISSUE_LABELS: Final = {
    "lost": N_("Reissue (lost card)"),
    "name_changed": N_("Reissue (name change)"),
}
BASIS_LABELS: Final = {
    "lives": N_("Lives here"),
    "works": N_("Works here"),
    "studies": N_("Studies here"),
}
NOTIFICATION_LABELS: Final = {
    "reservation_ready": N_("Reservation ready"),
    "expiry_near": N_("Card expiry near"),
    "overdue": N_("Overdue items"),
    "new_arrivals": N_("New arrivals"),
    "emergency_closure": N_("Emergency closures"),
}
LANGUAGE_LABELS: Final = {"ja": N_("Japanese"), "en": N_("English")}
EXTRA_DOCUMENT_LABEL: Final = N_("Workplace or school document")
CANCELLED_UNANSWERED: Final = N_("The applicant did not answer the library's questions in time.")
NO_NOTIFICATIONS: Final = N_("None")
# The age in full years (singular and plural; Japanese says 「1歳」 and 「41歳」 alike).
AGE_ONE: Final = N_("%(num)d year old")
AGE_MANY: Final = N_("%(num)d years old")
ANSWER_REPLACED: Final = N_("New image: %(slot)s, in place of the one sent before.")
ANSWER_ADDED: Final = N_("New image: %(slot)s, added.")

_SIDE_NAMES: Final = {str(side): names for side, names in SIDE_NAMES.items()}

AnyRequest = Request[Any, Any, Any]


@dataclass(frozen=True, slots=True)
class DocumentView:
    info: DocumentInfo
    url: str
    label: str


def aside(request: AnyRequest, text: str, note: str) -> str:
    """``text`` with ``note`` in brackets as the page's language writes them: full-width in
    Japanese (健康保険証（うら）), "Health insurance card (back)" in English."""
    return f"{text}（{note}）" if language(request) == "ja" else f"{text} ({note})"


def _label(request: AnyRequest, labels: dict[Any, str], value: str) -> str:
    """The translated label of ``value``; the value itself if it has none."""
    found = labels.get(value)
    return translate(request, found) if found else value


def procedure_label(request: AnyRequest, procedure: str, reissue_reason: str | None) -> str:
    """新規登録, 再発行（紛失）, 再発行（氏名変更）, 有効期限更新 or 登録内容変更."""
    if procedure == "reissue" and reissue_reason in REISSUE_LABELS:
        return translate(request, REISSUE_LABELS[reissue_reason])
    return _label(request, PROCEDURE_LABELS, procedure)


def status_label(request: AnyRequest, app: Application) -> str:
    return _label(request, STATUS_LABELS, app.status)


def status_labels(request: AnyRequest) -> dict[str, str]:
    """Every status by its label, for the statuses of other applications on the page."""
    return {str(status): translate(request, label) for status, label in STATUS_LABELS.items()}


def applicant_language(request: AnyRequest, app: Application) -> str:
    return _label(request, LANGUAGE_LABELS, app.language)


def birth_date_text(request: AnyRequest, birth_date: date) -> str:
    """1985年4月1日（昭和60年4月1日） / 1 April 1985 (昭和60年4月1日): the Japanese era is
    the one documents print, in Japanese on both languages' pages."""
    written = written_date(birth_date, language(request))
    try:
        era = japanese_era_date(birth_date)
    except ValueError:  # before 1873: no era date to compare with
        return written
    return aside(request, written, era)


def age_text(request: AnyRequest, birth_date: date, today: date) -> str:
    """41歳 / 41 years old, on ``today`` (the library's date); empty for a future date."""
    if birth_date > today:
        return ""
    age = age_on(birth_date, today)
    return translate(request, AGE_ONE if age == 1 else AGE_MANY) % {"num": age}


def facts(request: AnyRequest, app: Application, today: date) -> list[tuple[str, str]]:
    """The form as the reviewer reads it: (label, value) in the page's language; the birth
    date also in the Japanese era, and the age on ``today`` (the library's date)."""
    chosen = [
        translate(request, label)
        for key, label in NOTIFICATION_LABELS.items()
        if app.notifications.get(key)
    ]
    parts = (app.prefecture, app.city, app.street, app.building)
    basis = _label(request, BASIS_LABELS, app.basis)
    if app.workplace_or_school:
        # 在勤（株式会社…） / Works here: …
        place = app.workplace_or_school
        basis = f"{basis}（{place}）" if language(request) == "ja" else f"{basis}: {place}"
    rows = [
        (N_("Procedure"), procedure_label(request, app.procedure, app.reissue_reason)),
        (N_("Name"), app.display_name),
        (N_("Name in katakana"), f"{app.family_kana}\u3000{app.given_kana}".strip()),
        (N_("Date of birth"), birth_date_text(request, app.birth_date) if app.birth_date else ""),
        (N_("Age today"), age_text(request, app.birth_date, today) if app.birth_date else ""),
        (N_("Postal code"), format_postal_code(app.postal_code) if app.postal_code else ""),
        (N_("Address"), " ".join(part for part in parts if part)),
        (N_("Phone"), format_phone(app.phone) if app.phone else ""),
        (N_("Email"), app.email),
        (N_("Basis of eligibility"), basis),
        (
            N_("Notifications"),
            list_text(request, chosen) if chosen else translate(request, NO_NOTIFICATIONS),
        ),
        (N_("Language for emails"), applicant_language(request, app)),
        (N_("Notes agreed to (version)"), version_text(request, app.consent_version or "")),
    ]
    return [(translate(request, label), value) for label, value in rows]


def list_text(request: AnyRequest, items: list[str]) -> str:
    """Choices in a sentence: 「、」 between them in Japanese, ", " in English."""
    return ("、" if language(request) == "ja" else ", ").join(items)


def version_text(request: AnyRequest, version: str) -> str:
    """A notes version as staff read it: a version named by its date (2025-03-21, as the
    shipped profiles name theirs) is written as a date, 2025年3月21日; any other as it is."""
    try:
        return written_date(date.fromisoformat(version), language(request))
    except ValueError:
        return version


def slot_label(request: AnyRequest, profile: Profile, doc_type: str, side: str) -> str:
    """A document slot, type and side: "Health insurance card (back)", 「健康保険証（うら）」."""
    lang = language(request)
    if doc_type == EXTRA_DOCUMENT:
        kind = translate(request, EXTRA_DOCUMENT_LABEL)
    else:
        found = next((t for t in profile.documents.types if t.id == doc_type), None)
        kind = found.name.get(lang) if found else doc_type
    side_name = _SIDE_NAMES.get(side, {}).get(lang, side)
    return aside(request, kind, side_name)


def document_label(request: AnyRequest, profile: Profile, info: DocumentInfo) -> str:
    """The document's type and side, as "Health insurance card (back)"."""
    return slot_label(request, profile, info.doc_type, info.side)


def answer_documents(
    request: AnyRequest, profile: Profile, history: list[AuditEntry]
) -> dict[int, str]:
    """By inquiry id, the image its answer brought, as the history recorded it: "Health
    insurance card (back): replaces the image sent before" or "...: added"."""
    found: dict[int, str] = {}
    for entry in history:
        detail = entry.detail
        if entry.action != "application.answer" or "doc_type" not in detail:
            continue
        slot = slot_label(request, profile, str(detail["doc_type"]), str(detail["side"]))
        how = ANSWER_REPLACED if detail.get("replaced") else ANSWER_ADDED
        found[int(detail["inquiry_id"])] = translate(request, how) % {"slot": slot}
    return found


def decision_reason(request: AnyRequest, app: Application) -> str:
    """Why the application ended: the reason sent to a rejected applicant, or why it was
    cancelled."""
    if app.status == ApplicationStatus.CANCELLED and app.decision_reason == (
        inquiries.CANCEL_REASON
    ):
        return translate(request, CANCELLED_UNANSWERED)
    return app.decision_reason or ""


# ------------------------------------------------------------------ procedure checks

COMPARISON_LABELS: Final = {
    "name": N_("Name"),
    "kana": N_("Name in katakana"),
    "postal_code": N_("Postal code"),
    "address": N_("Address"),
    "phone": N_("Phone"),
}
MATCH_LABELS: Final = {
    NAME_BIRTH: N_("same name in katakana and date of birth"),
    EMAIL: N_("same email address"),
    PHONE: N_("same phone number"),
}
RENEWAL_BASES: Final = {
    "window": N_("The expiry date is near: within the renewal period."),
    "expired": N_("The card has expired."),
    "dormant": N_("The card has not been used at a counter for %(years)s years."),
}
RENEWAL_NOT_OPEN: Final = N_(
    "Renewal is not open for this card today: the expiry date is not near, and the card "
    "has been used recently."
)
CARD_STATES: Final = {
    "valid": N_("Valid"),
    "expired": N_("Expired"),
    "suspended": N_("Suspended"),
    "revoked": N_("No longer valid (revoked)"),
}
CARD_REASONS: Final = {
    "reported_lost": N_("reported lost"),
    "reissued": N_("replaced by a new number"),
}


def card_state(request: AnyRequest, card: CardNow | CandidateCard, today: date) -> str:
    """ "Suspended (reported lost)", "Expired", ...: the stored status, expiry worked out."""
    if card.status == CardStatus.ACTIVE:
        key = "expired" if card.expires_on < today else "valid"
    else:
        key = str(card.status)
    text = _label(request, CARD_STATES, key)
    if card.reason:
        text = f"{text} ({_label(request, CARD_REASONS, card.reason)})"
    return text


def comparison_label(request: AnyRequest, field: str) -> str:
    return _label(request, COMPARISON_LABELS, field)


def match_labels(request: AnyRequest, matched_by: frozenset[str]) -> str:
    ordered = [key for key in MATCH_LABELS if key in matched_by]
    return list_text(request, [translate(request, MATCH_LABELS[key]) for key in ordered])


def renewal_basis(request: AnyRequest, checks: ProcedureChecks, profile: Profile) -> str:
    """Why renewal is open today (the profile's window, expiry, dormancy), or that it is not."""
    if checks.renewal_basis is None:
        return translate(request, RENEWAL_NOT_OPEN)
    # A mapping fills only the placeholders a text has.
    return translate(request, RENEWAL_BASES[checks.renewal_basis]) % {
        "years": profile.card.dormant_years
    }


@dataclass(frozen=True, slots=True)
class ApproveTexts:
    description: str
    button: str


APPROVE_TEXTS: Final = {
    "new": (
        N_("Issues a user number and a digital card, and emails the applicant the number."),
        N_("Approve and issue the card"),
    ),
    "reissue": (
        N_(
            "Issues a new user number and card, revokes the old number and its card token at "
            "once, and emails the applicant the new number."
        ),
        N_("Approve and reissue with a new number"),
    ),
    "renewal": (
        N_(
            "Keeps the user number, sets the new expiry date shown above, issues a new card "
            "token, and emails the applicant."
        ),
        N_("Approve and renew"),
    ),
    "change": (
        N_(
            "Updates the patron's address and phone as shown above, keeps the number and the "
            "card, and emails the applicant."
        ),
        N_("Approve and update the details"),
    ),
}


def approve_texts(request: AnyRequest, procedure: str) -> ApproveTexts:
    description, button = APPROVE_TEXTS.get(procedure, APPROVE_TEXTS["new"])
    return ApproveTexts(translate(request, description), translate(request, button))
