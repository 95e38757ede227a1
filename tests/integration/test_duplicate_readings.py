"""Duplicates are found by reading and by contact, on both engines: サイトー イチロー applying
is shown the registered サイトウ イチロウ (and small kana the large ones), and the same email
address or phone number is listed too, in every place that looks for duplicates."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import time_machine

from cardservice.registration import candidates, review
from cardservice.registration.applicant import get_application
from cardservice.registration.checks import procedure_checks
from cardservice.registration.form import parse_application
from cardservice.registration.procedure_details import holds_card
from cardservice.registration.queue import possible_duplicates
from cardservice.services import Services
from tests.integration.test_review_procedures import counter_patron, procedure_application
from tests.registration_flow import FRIDAY
from tests.unit.registration.samples import TODAY as FORM_TODAY
from tests.unit.registration.samples import VALID_RAW

TODAY = date(2026, 4, 3)
SAITO = {
    "family_name": "斎藤",
    "given_name": "一郎",
    "family_kana": "サイトウ",
    "given_kana": "イチロウ",
}
LONG_MARKS = {
    "family_name": "斉藤",
    "given_name": "一郎",
    "family_kana": "サイトー",
    "given_kana": "イチロー",
}


@pytest.fixture(params=["yokohama", "kashiwa"])
def profile_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def clock() -> Any:
    with time_machine.travel(FRIDAY, tick=False) as traveller:
        yield traveller


async def test_a_long_vowel_written_another_way_is_found_everywhere(services: Services) -> None:
    card = await counter_patron(services, "ichiro@example.org", **SAITO)
    public_id = await procedure_application(
        services, "new", patron_id=None, email="saito.ichiro@example.org", phone="+819011112222",
        **LONG_MARKS,
    )  # fmt: skip
    profile = services.settings.profile
    async with services.db.transaction() as session:
        app = await get_application(session, public_id)
        checks = await procedure_checks(session, app, profile=profile, today=TODAY)
        (item,) = await review.queue(session, TODAY, profile=profile)
        (duplicate,) = await possible_duplicates(session, app)
        raw = {**VALID_RAW, "family_kana": "ｻｲﾄｰ", "given_kana": "いちろー"}
        form = parse_application(raw, profile=profile, email=app.email, today=FORM_TODAY)
        already = await holds_card(session, form)
    (holder,) = checks.card_holders
    assert holder.patron_id == card.patron_id
    assert holder.matched_by == {candidates.NAME_BIRTH}
    assert item.card_holder is True
    assert (duplicate.kind, duplicate.ref) == ("patron", str(card.patron_id))
    assert already is True  # the applicant's side turns them to the counter where it must


async def test_small_kana_and_a_reissue_without_login(services: Services) -> None:
    card = await counter_patron(
        services, "shun@example.org", family_kana="ハットリ", given_kana="シュン"
    )
    public_id = await procedure_application(
        services, "reissue", patron_id=None, reason="lost", email="other@example.org",
        phone="+819011112222", family_kana="ハツトリ", given_kana="シユン",
    )  # fmt: skip
    async with services.db.transaction() as session:
        app = await get_application(session, public_id)
        (found,) = await candidates.candidates(session, app)
    assert found.patron_id == card.patron_id
    assert found.matched_by == {candidates.NAME_BIRTH}


async def test_a_new_registration_lists_the_same_email_or_phone(services: Services) -> None:
    by_email = await counter_patron(
        services, "family@example.org", given_name="太郎", given_kana="タロウ",
        birth_date=date(1960, 1, 1),
    )  # fmt: skip
    by_phone = await counter_patron(
        services, "jiro@example.org", given_name="次郎", given_kana="ジロウ",
        birth_date=date(1962, 2, 2), phone="+819033334444",
    )  # fmt: skip
    public_id = await procedure_application(
        services, "new", patron_id=None, email="family@example.org", phone="+819033334444",
        given_name="三郎", given_kana="サブロウ",
    )  # fmt: skip
    profile = services.settings.profile
    async with services.db.transaction() as session:
        app = await get_application(session, public_id)
        checks = await procedure_checks(session, app, profile=profile, today=TODAY)
        (item,) = await review.queue(session, TODAY, profile=profile)
    assert checks.card_holders == []  # nobody of this name and birth date
    assert item.card_holder is False  # a family's address flags no application
    listed = {c.patron_id: c.matched_by for c in checks.candidates}
    assert listed == {
        by_email.patron_id: {candidates.EMAIL},
        by_phone.patron_id: {candidates.PHONE},
    }


async def test_an_address_typed_otherwise_matches_the_stored_one(services: Services) -> None:
    card = await counter_patron(
        services, "taro..yamada@docomo.ne.jp", given_name="太郎", given_kana="タロウ",
        birth_date=date(1960, 1, 1),
    )  # fmt: skip
    public_id = await procedure_application(
        services, "change", patron_id=None, email='"taro..yamada"@docomo.ne.jp',
        phone="+819011112222", given_kana="ジロウ",
    )  # fmt: skip
    async with services.db.transaction() as session:
        app = await get_application(session, public_id)
        (found,) = await candidates.candidates(session, app)
    assert found.patron_id == card.patron_id
    assert found.matched_by == {candidates.EMAIL}
