"""What the applicant's pages show: texts for every error they can meet, the form filled in
again from a saved draft, and nothing that would echo a password."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cardservice.patrons.models import Patron
from cardservice.registration import steps
from cardservice.registration.documents import DocumentRejected
from cardservice.registration.form import FieldError, FormErrors
from cardservice.registration.models import Application
from cardservice.security.links import LinkInvalid

FIELD_ERRORS = FormErrors(
    [
        FieldError("family_kana", "kana_invalid", "カタカナで", "In katakana"),
        FieldError("family_kana", "too_long", "長すぎ", "Too long"),
        FieldError("basis", "not_resident", "対象外です。窓口へ", "Outside; counter"),
    ]
)


@pytest.mark.parametrize(
    "code", ["link_used", "link_expired", "link_unknown", "link_wrong_purpose"]
)
def test_every_link_refusal_has_both_texts(code: str) -> None:
    refusal = LinkInvalid("English only", code=code)
    assert steps.error_text(refusal, "ja") != steps.error_text(refusal, "en")
    assert any("\u3040" <= ch <= "\u9fff" for ch in steps.error_text(refusal, "ja"))


def test_document_refusals_are_filled_in_from_their_detail() -> None:
    refusal = DocumentRejected(code="document_too_many", field="document", max_files=2)
    assert steps.error_text(refusal, "en") == "You can attach at most 2 files."
    assert steps.error_field(refusal, "file") == "document"
    side = DocumentRejected(code="document_side_invalid", field="side", doc_type="my_number")
    assert "おもて面だけ" in steps.error_text(side, "ja")


def test_an_error_without_texts_keeps_its_message() -> None:
    assert steps.error_text(LinkInvalid("Odd.", code="no_such_code"), "ja") == "Odd."


def test_field_errors_show_the_first_per_field_and_pick_the_counter_answers() -> None:
    assert steps.field_errors(FIELD_ERRORS, "ja") == {
        "family_kana": "カタカナで",
        "basis": "対象外です。窓口へ",
    }
    assert steps.counter_messages(FIELD_ERRORS, "en") == ["Outside; counter"]


def test_a_saved_draft_fills_the_form_in_again() -> None:
    app = Application(
        email="hanako@example.org",
        procedure="new",
        family_name="山田",
        given_name="花子",
        family_kana="ヤマダ",
        given_kana="ハナコ",
        birth_date=date(1990, 4, 1),
        postal_code="2310005",
        prefecture="神奈川県",
        city="横浜市中区",
        street="本町1-1",
        building="",
        phone="+81452627334",
        basis="lives",
        workplace_or_school="",
        notifications={"expiry_near": True, "overdue": False},
        password_hash="$argon2id$stored",
    )
    values = steps.form_values(app)
    assert values["postal_code"] == "231-0005"
    assert values["phone"] == "045-262-7334"
    assert values["birth_date"] == "1990-04-01"
    assert values["notify_expiry_near"] == "on"
    assert values["notify_overdue"] == ""
    assert values["email"] == "hanako@example.org"
    assert "password" not in values
    assert "$argon2id$stored" not in values.values()


def test_an_unsaved_draft_gives_an_empty_form() -> None:
    values = steps.form_values(Application(email="a@example.org"))
    assert values["family_name"] == ""
    assert values["procedure"] == "new"


def test_typed_values_never_carry_the_password_or_another_email() -> None:
    typed = {"family_name": "山田", "password": "secret-42!", "email": "other@example.org"}
    values = steps.typed_values(typed, "hanako@example.org")
    assert values["family_name"] == "山田"
    assert values["email"] == "hanako@example.org"
    assert "secret-42!" not in values.values()


def test_codes_without_texts_are_worded_by_the_page() -> None:
    errors = FormErrors(
        [
            FieldError("postal_code", "change_nothing"),
            FieldError("procedure", "already_registered"),
        ]
    )
    words = {"change_nothing": "変更なし", "already_registered": "登録済み（%(x)s）"}
    with pytest.raises(KeyError):  # a placeholder the error does not fill is a bug
        steps.field_errors(errors, "ja", words)
    words["already_registered"] = "登録済み"
    assert steps.field_errors(errors, "ja", words) == {
        "postal_code": "変更なし",
        "procedure": "登録済み",
    }
    assert steps.counter_messages(errors, "ja", words) == ["登録済み"]


def _patron() -> Patron:
    return Patron(
        family_name="山田",
        given_name="花子",
        family_kana="ヤマダ",
        given_kana="ハナコ",
        birth_date=date(1990, 4, 1),
        email="hanako@example.org",
        phone="+81452627334",
        postal_code="2310005",
        prefecture="神奈川県",
        city="横浜市中区",
        street="本町1-1",
        building="",
        eligibility_basis="works",
        workplace_or_school="横浜市立大学",
    )


def test_a_draft_started_logged_in_is_filled_in_from_the_patron() -> None:
    app = Application(email="hanako@example.org", procedure="renewal", patron_id=7)
    values = steps.form_values(app, _patron())
    assert values["procedure"] == "renewal"
    assert values["postal_code"] == "231-0005"
    assert values["phone"] == "045-262-7334"
    assert (values["basis"], values["workplace_or_school"]) == ("works", "横浜市立大学")
    assert values["birth_date"] == "1990-04-01"


def test_a_saved_name_change_shows_the_new_name_apart_from_the_former() -> None:
    app = Application(
        email="hanako@example.org",
        procedure="reissue",
        family_name="佐藤",
        given_name="花子",
        family_kana="サトウ",
        given_kana="ハナコ",
        birth_date=date(1990, 4, 1),
        reissue_reason="name_changed",
        eloan_acknowledged_at=datetime(2026, 4, 3, tzinfo=UTC),
        previous={"former_name": {"family_name": "山田", "family_kana": "ヤマダ"}},
    )
    values = steps.form_values(app)
    assert (values["new_family_name"], values["new_family_kana"]) == ("佐藤", "サトウ")
    assert (values["family_name"], values["family_kana"]) == ("山田", "ヤマダ")
    assert (values["reissue_reason"], values["eloan_acknowledged"]) == ("name_changed", "on")
