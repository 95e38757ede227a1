"""The shape of a library profile: every rule in which two libraries may differ.

A profile is TOML, decoded strictly: an unknown key, a wrong type or a value out of range
fails at start with a message that names the key (see ``profiles.load_profile``).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

PositiveInt = Annotated[int, Meta(ge=1)]
NonNegativeInt = Annotated[int, Meta(ge=0)]
Weekday = Annotated[int, Meta(ge=0, le=6)]  # Monday = 0, as Python's date.weekday()
ShortText = Annotated[str, Meta(min_length=1, max_length=200)]

CheckSchemeName = Literal["none", "luhn", "mod10w3", "mod11w27", "7dr", "7dsr", "mod16"]
CodabarStartStop = Literal["A", "B", "C", "D"]
ImageFormat = Literal["gif", "jpeg", "png"]
EligibilityBasis = Literal["lives", "works", "studies"]
# A designated city's ward as Japan Post writes it: 横浜市 + 中区.
DESIGNATED_CITY_WARD = re.compile(r"(.+?市)(.+?区)")


class Strict(Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Base for profile sections: unknown keys are errors, values are immutable."""


class LocalText(Strict, kw_only=True, frozen=True):
    """A text in Japanese and English."""

    ja: ShortText
    en: ShortText

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.ja


class LongLocalText(Strict, kw_only=True, frozen=True):
    """A longer text (notes, warnings) in Japanese and English."""

    ja: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.ja


class LibrarySection(Strict, kw_only=True, frozen=True):
    name: LocalText
    city: LocalText
    prefecture: ShortText  # as in Japan Post data, e.g. 神奈川県
    # Municipalities whose residents may register online, as Japan Post names them; a
    # designated city matches all its wards (横浜市 matches 横浜市中区).
    resident_municipalities: list[ShortText]
    # Municipalities whose residents must come to the counter (Yokohama's wide-area use).
    counter_municipalities: list[ShortText] = []
    # The English names of the municipalities above, for pages shown in English
    # ({"松戸市" = "Matsudo"}); a municipality without one is shown as Japan Post names it.
    municipality_names_en: dict[ShortText, ShortText] = {}
    sender_email: Annotated[str, Meta(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    phone: str = ""
    # The rest of the library's contact, printed in every email's signature and the pages'
    # footer when set: the office that answers (Yokohama: 中央図書館企画運営課), the postal
    # address, a fax number and the library's web site.
    department: LocalText | None = None
    address: LocalText | None = None
    fax: str = ""
    url: Annotated[str, Meta(pattern=r"^(https?://\S+)?$")] = ""
    timezone: str = "Asia/Tokyo"
    # A postal code in the library's own city, shown as the example on forms (NNN-NNNN).
    sample_postal_code: Annotated[str, Meta(pattern=r"^[0-9]{3}-[0-9]{4}$")] = "231-0005"

    def municipality_name(self, name: str, lang: str) -> str:
        """``name`` (as Japan Post writes it, "松戸市") in ``lang``: in English the name
        :meth:`english_municipality` gives ("Matsudo"), else ``name`` unchanged."""
        if lang != "en":
            return name
        return self.english_municipality(name) or name

    def english_municipality(self, name: str) -> str | None:
        """The English name of ``name`` (as Japan Post writes it): the one
        ``municipality_names_en`` gives ("松戸市": "Matsudo"), the library's own city as
        ``city.en``; a ward of a designated city by its own entry if it has one, else by its
        city's ("横浜市中区": "Yokohama"). None for a place the profile does not name."""
        if name in self.municipality_names_en:
            return self.municipality_names_en[name]
        if name == self.city.ja:
            return self.city.en
        ward = DESIGNATED_CITY_WARD.fullmatch(name)
        return self.english_municipality(ward.group(1)) if ward is not None else None


class CardSection(Strict, kw_only=True, frozen=True):
    validity_years: Annotated[int, Meta(ge=1, le=20)]
    # Renewal opens this long before expiry, in months or in days: set one of the two
    # (Kashiwa: 「1か月前から更新可」, one month).
    renewal_window_days: Annotated[int, Meta(ge=0, le=366)] = 0
    renewal_window_months: Annotated[int, Meta(ge=0, le=12)] = 0
    # A card unused this long (no successful counter verification) may be renewed at once.
    dormant_years: Annotated[int, Meta(ge=1, le=20)] = 3
    # A renewed card's new expiry counts validity_years from the old expiry date, or from
    # the day the renewal is approved.
    renewal_expiry_from: Literal["old_expiry", "approval"] = "approval"
    # Renewal asks for an identity document, and staff review it.
    renewal_document: bool = True
    # The expiry reminder goes this many days before expiry to patrons who opted in; 0: never.
    expiry_notice_days: Annotated[int, Meta(ge=0, le=180)] = 30
    # Counters accept a card token only as a rotating code signed by the patron's phone
    # (cards.device_proof): a screenshot of the card cannot be replayed. Barcodes are unchanged.
    counter_requires_rotating_code: bool = False


class NumberSection(Strict, kw_only=True, frozen=True):
    prefix: Annotated[str, Meta(pattern=r"^[0-9]*$", max_length=8)] = ""
    # Total length of the user number, prefix and check character included.
    length: Annotated[int, Meta(ge=4, le=20)]
    check_digit: CheckSchemeName


class BarcodeSection(Strict, kw_only=True, frozen=True):
    symbology: Literal["codabar", "code128"] = "codabar"
    start: CodabarStartStop = "A"
    stop: CodabarStartStop = "A"


HexColour = Annotated[str, Meta(pattern=r"^#[0-9a-fA-F]{6}$")]


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2.x contrast ratio of two ``#rrggbb`` colours, 1.0 to 21.0 (the relative
    luminance of section 1.4.3's definition, sRGB)."""

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


class ColoursSection(Strict, kw_only=True, frozen=True):
    """The library's colours on the card page and on wallet passes (Apple's
    ``backgroundColor``/``foregroundColor``/``labelColor``, Google's ``hexBackgroundColor``).
    The text colours must reach WCAG AA (4.5:1) on the background."""

    background: HexColour = "#0b4f9c"
    foreground: HexColour = "#ffffff"
    label: HexColour = "#dce9f7"

    def __post_init__(self) -> None:
        for name in ("foreground", "label"):
            if contrast_ratio(getattr(self, name), self.background) < 4.5:
                raise ValueError(f"colours.{name} is below 4.5:1 contrast on the background")


class PasswordSection(Strict, kw_only=True, frozen=True):
    # "composition": length bounds plus a letter, a digit and a symbol (Yokohama's rule).
    # "nist": NIST SP 800-63B, length only plus a blocklist of common passwords.
    policy: Literal["composition", "nist"]
    min_length: Annotated[int, Meta(ge=8, le=64)]
    max_length: Annotated[int, Meta(ge=8, le=128)]
    symbols: str = "-/@.+*_#!?%"


class DocumentType(Strict, kw_only=True, frozen=True):
    id: Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]*$")]
    name: LocalText
    # "front": the front only, the back is refused (a My Number card's back carries the
    # Individual Number); "both": front and back are needed; "front_optional_back": the front
    # is needed and the back is taken when it matters (Kashiwa's driver's licence: 住所変更が
    # うら面に記載されている場合は両面).
    sides: Literal["front", "both", "front_optional_back"]
    note: LongLocalText | None = None


class DocumentsSection(Strict, kw_only=True, frozen=True):
    # Files one application may hold in all (Yokohama: "Up to two files"); None: no count
    # beyond one file per document side (Kashiwa's seed sets none).
    max_files: Annotated[int, Meta(ge=1, le=10)] | None = None
    max_bytes: Annotated[int, Meta(ge=10_000, le=50_000_000)]
    formats: Annotated[list[ImageFormat], Meta(min_length=1)]
    max_pixels: Annotated[int, Meta(ge=100_000, le=100_000_000)] = 40_000_000
    # The address shown on the document must be the current one.
    require_current_address: bool = True
    types: Annotated[list[DocumentType], Meta(min_length=1)]
    # Work or study needs one more document (employee ID, student ID, ...).
    extra_for_work_or_study: bool = True
    # ID images are deleted this many days after the application is decided.
    retention_days: Annotated[int, Meta(ge=0, le=365)]


MonthDay = Annotated[str, Meta(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]


class MonthlyClosure(Strict, kw_only=True, frozen=True):
    """A closing day every month, such as the last Thursday (館内整理日): ``week`` 1 to 5
    counts that weekday from the month's start, -1 is the last one of the month."""

    weekday: Weekday
    week: Literal[1, 2, 3, 4, 5, -1]


class ClosurePeriod(Strict, kw_only=True, frozen=True):
    """Days closed in a row, first and last included, such as stock-taking (蔵書点検期間)."""

    start: date
    end: date
    name: LocalText | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a closure period must not end before it starts")
        if (self.end - self.start).days > 92:
            raise ValueError("a closure period is at most 93 days; list longer ones apart")


class YearEndClosure(Strict, kw_only=True, frozen=True):
    """The year-end and new-year closure as a rule (年末年始休館): ``start`` in December and
    ``end`` in January as MM-DD, both included, every year."""

    start: MonthDay = "12-29"
    end: MonthDay = "01-03"


class CalendarSection(Strict, kw_only=True, frozen=True):
    closed_weekdays: list[Weekday] = []
    public_holidays_closed: bool = True
    # 祝日開館・翌平日休館: a closed weekday that is a public holiday opens, and the next
    # weekday that is not a holiday closes instead.
    holiday_opens_closed_weekday: bool = False
    monthly_closures: list[MonthlyClosure] = []
    closure_periods: list[ClosurePeriod] = []
    year_end: YearEndClosure | None = None
    closures: list[date] = []


class ReviewSection(Strict, kw_only=True, frozen=True):
    deadline_opening_days: Annotated[int, Meta(ge=1, le=30)]


class InquirySection(Strict, kw_only=True, frozen=True):
    max_unanswered: Annotated[int, Meta(ge=1, le=10)]
    answer_days: Annotated[int, Meta(ge=1, le=90)]


class LinksSection(Strict, kw_only=True, frozen=True):
    verification_hours: Annotated[int, Meta(ge=1, le=168)] = 24
    # Emails per address and per client within one hour.
    per_address_per_hour: Annotated[int, Meta(ge=1, le=100)] = 3
    per_client_per_hour: Annotated[int, Meta(ge=1, le=1000)] = 20


class RegistrationSection(Strict, kw_only=True, frozen=True):
    bases: Annotated[list[EligibilityBasis], Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: ["lives", "works", "studies"]
    )
    notes_version: ShortText
    notes: LongLocalText


ProcedureName = Literal["new", "reissue", "renewal", "change"]


class ProceduresSection(Strict, kw_only=True, frozen=True):
    """What the library takes online after registration (PRODUCT.md, "Procedures")."""

    online: Annotated[list[ProcedureName], Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: ["new", "reissue", "renewal", "change"]
    )
    # Someone who already holds a card and applies for a new registration is sent to the
    # counter (Yokohama: "Those who have already registered"); otherwise staff are warned.
    registered_to_counter: bool = False
    # A phone change needs an identity document too (an address change always does).
    phone_change_document: bool = False
    # What a reissue applicant acknowledges (Kashiwa: 利用者番号が変わるため、電子図書館での
    # 貸出・予約資料のデータは引き継がれません).
    eloan_notice: LongLocalText = LongLocalText(
        ja="再発行を行うと利用者番号が変わるため、電子図書館での貸出・予約資料のデータは"
        "引き継がれません。",
        en="A reissue changes your user number, so your e-library loans and reservations "
        "are not carried over to the new number.",
    )
    # The notes a patron agrees to before a renewal, reissue or change of details (the new
    # registration's notes tell card holders not to apply again), and their version.
    notes_version: ShortText = "procedures-1"
    notes: LongLocalText = LongLocalText(
        ja="有効期限更新・登録内容変更の場合は、利用券バーコードのほか、お手持ちの利用カードも"
        "引き続きご利用いただけます。再発行の場合は利用者番号が変わり、以前の番号は使えなくなります。"
        "本人確認書類は、氏名・現住所・生年月日が記載された有効なものを添付してください。",
        en="After a renewal or a change of details, your barcode and any plastic card you hold "
        "keep working. A reissue gives you a new user number, and the old one stops working. "
        "Attach a valid identity document showing your name, current address and date of birth.",
    )
    # Said on the password pages when the library's e-library uses this password too
    # (Kashiwa: 「電子図書館サービス」のパスワード).
    elibrary_password_note: LongLocalText | None = None


class PatronsSection(Strict, kw_only=True, frozen=True):
    # "Keep me signed in on this device" lasts this long, renewed by each visit.
    keep_signed_in_days: Annotated[int, Meta(ge=1, le=400)] = 90
    # A password reset link works this long (at most 24 hours).
    reset_link_hours: Annotated[int, Meta(ge=1, le=24)] = 24
    # Forgotten-number and reset emails per address and per client within one hour.
    recovery_per_address_per_hour: Annotated[int, Meta(ge=1, le=100)] = 3
    recovery_per_client_per_hour: Annotated[int, Meta(ge=1, le=1000)] = 20


class RetentionSection(Strict, kw_only=True, frozen=True):
    """How long personal data stays once it has served its purpose (APPI: no longer than
    needed). ID images of decided applications go by ``documents.retention_days``."""

    # A sent email's bodies (link tokens, names, user numbers) are cleared this many days
    # after delivery; its address, subject, dates and status stay for staff. 0: at once.
    sent_mail_body_days: Annotated[int, Meta(ge=0, le=365)] = 30
    # A draft never submitted is deleted, its ID images with it, this many days after the
    # applicant last changed it.
    draft_days: Annotated[int, Meta(ge=1, le=365)] = 30
    # A rejected or cancelled application keeps name, birth date, address, phone and email
    # this many days after the decision; then they are erased and only the reference number,
    # procedure, status, dates, basis, prefecture and city stay for statistics and history.
    closed_application_days: Annotated[int, Meta(ge=0, le=3650)] = 90


class ImportSection(Strict, kw_only=True, frozen=True):
    """How the library system's patron export reads: CSV column names per field."""

    encoding: Literal["utf-8", "utf-8-sig", "cp932", "shift_jis"] = "utf-8-sig"
    date_format: ShortText = "%Y-%m-%d"
    columns: dict[str, ShortText] = msgspec.field(
        default_factory=lambda: {
            "user_number": "user_number",
            "family_name": "family_name",
            "given_name": "given_name",
            "family_kana": "family_kana",
            "given_kana": "given_kana",
            "birth_date": "birth_date",
            "email": "email",
            "phone": "phone",
            "postal_code": "postal_code",
            "prefecture": "prefecture",
            "city": "city",
            "street": "street",
            "building": "building",
            "expires_on": "expires_on",
            "status": "status",
        }
    )
    # The export's status values, mapped to card statuses.
    statuses: dict[str, Literal["active", "suspended", "revoked"]] = msgspec.field(
        default_factory=lambda: {"active": "active", "suspended": "suspended", "revoked": "revoked"}
    )


class DisplaySection(Strict, kw_only=True, frozen=True):
    """How pages and emails write things for this library."""

    # Japanese dates name the era first: 令和11年（2029年）11月30日 instead of 2029年11月30日.
    japanese_era: bool = False


class Profile(Strict, kw_only=True, frozen=True):
    id: Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_-]*$")]
    library: LibrarySection
    card: CardSection
    number: NumberSection
    barcode: BarcodeSection = BarcodeSection()
    colours: ColoursSection = ColoursSection()
    password: PasswordSection
    documents: DocumentsSection
    calendar: CalendarSection = CalendarSection()
    review: ReviewSection
    inquiry: InquirySection
    links: LinksSection = LinksSection()
    registration: RegistrationSection
    procedures: ProceduresSection = ProceduresSection()
    patrons: PatronsSection = PatronsSection()
    retention: RetentionSection = RetentionSection()
    display: DisplaySection = DisplaySection()
    patron_import: ImportSection = msgspec.field(default_factory=ImportSection, name="import")

    def __post_init__(self) -> None:
        # Cross-field rules; msgspec reports these with the profile path.
        if (self.card.renewal_window_days > 0) == (self.card.renewal_window_months > 0):
            raise ValueError(
                "card: set one of renewal_window_days and renewal_window_months, not both"
            )
        if self.password.min_length > self.password.max_length:
            raise ValueError("password.min_length is greater than password.max_length")
        if len(self.number.prefix) + 2 > self.number.length:
            raise ValueError("number.length leaves no room after number.prefix")
        if len({t.id for t in self.documents.types}) != len(self.documents.types):
            raise ValueError("documents.types has two types with the same id")
        documents = self.documents
        if documents.max_files is not None and not any(
            (2 if t.sides == "both" else 1) + int(documents.extra_for_work_or_study)
            <= documents.max_files
            for t in documents.types
        ):
            raise ValueError(
                "documents.max_files is too small for every document type "
                "(with the workplace or school document, when extra_for_work_or_study)"
            )


def decode_profile(data: bytes | str) -> Profile:
    """Decode and validate TOML; raises msgspec.ValidationError/DecodeError naming the key."""
    return msgspec.toml.decode(data, type=Profile)
