"""The review pages for reissue, renewal and change of details over HTTP, for both libraries'
profiles on both engines: the queue's labels and flags, each procedure's checks, the pick of
the patron, the approval's confirmation, and what the counter API and the card page say
after a reissue.
"""

from __future__ import annotations

import re
from typing import Any

import time_machine
import zxingcpp
from sqlalchemy import select

from cardservice.cards.lifecycle import REPORTED_LOST
from cardservice.cards.models import Card, CardStatus, RevocationReason
from cardservice.cards.numbers import barcode_text
from cardservice.cards.service import revoke_card
from cardservice.registration.candidates import (
    ApplicationPatronRequired,
    PatronChoiceInvalid,
    PatronFixed,
    PatronNotNeeded,
    PatronNumberUnknown,
    PatronPickedMeanwhile,
)
from cardservice.registration.decisions import ApplicationNoCard
from cardservice.registration.models import ApplicationStatus
from cardservice.registration.review_routes.texts import ERROR_MESSAGES
from cardservice.services import Services
from cardservice.web.i18n import translations
from tests.card_support import card_token_of, counter_api_key, verify
from tests.integration.test_pipeline import decoded_symbols
from tests.integration.test_review_procedures import (
    IN_WINDOW,
    MOVED,
    OUTSIDE,
    card_of,
    procedure_application,
    registered_patron,
)
from tests.registration_flow import (
    EMAIL,
    FORMS,
    both_profiles,  # noqa: F401  # a fixture
    clock_at_friday,  # noqa: F401  # a fixture
    load,
    outbox,
)
from tests.web_support import (
    Client,
    client_on_clock,  # noqa: F401  # a fixture
    csrf_from,
    login,
    make_staff,
    web_client,
    with_free_catcher_port,
)


async def reviewer(client: Client, services: Services) -> None:
    await make_staff(services, "sato")  # display name 佐藤 花子
    await login(client, "sato")


def app_url(public_id: str) -> str:
    return f"/staff/applications/{public_id}"


async def post_form(client: Client, path: str, *, page: str, **fields: str) -> Any:
    """Post ``fields`` with the CSRF token of the form on ``page``, as a browser would."""
    shown = await client.get(page)
    assert shown.status_code == 200, shown.text
    return await client.post(path, data={**fields, "_csrf_token": csrf_from(shown.text)})


def section(html: str, title_id: str) -> str:
    """The ``<section>`` whose heading has id ``title_id``."""
    return html.split(f'id="{title_id}"', 1)[1].split("</section>", 1)[0]


def row(html: str, field: str) -> str:
    return html.split(f'class="compare-{field}', 1)[1].split("</tr>", 1)[0]


# ------------------------------------------------------------------------------ queue


async def test_the_queue_labels_each_procedure_and_flags_what_comes_first(
    client: Client, services: Services
) -> None:
    card = await registered_patron(services)
    ids = {
        "lost": await procedure_application(
            services, "reissue", patron_id=card.patron_id, reason="lost"
        ),
        "name": await procedure_application(
            services, "reissue", patron_id=None, reason="name_changed", family_name="佐藤"
        ),
        "renewal": await procedure_application(services, "renewal", patron_id=card.patron_id),
        "change": await procedure_application(services, "change", patron_id=card.patron_id),
        "new": await procedure_application(
            services, "new", patron_id=None, email="again@example.org"
        ),
    }
    await reviewer(client, services)

    def items(html: str) -> dict[str, str]:
        found = re.findall(r'<li class="queue-item[^"]*">.*?</li>', html, re.S)
        return {name: next(i for i in found if app_url(pid) in i) for name, pid in ids.items()}

    japanese = items((await client.get("/staff/queue?lang=ja")).text)
    assert "再発行（紛失）" in japanese["lost"]
    assert "再発行（氏名変更）" in japanese["name"]
    assert "有効期限更新" in japanese["renewal"]
    assert "登録内容変更" in japanese["change"]
    assert "新規登録" in japanese["new"]
    assert "利用者の特定が必要" in japanese["name"]
    assert "利用者の特定が必要" not in japanese["lost"]
    assert "利用カード所持者" in japanese["new"]
    assert "利用カード所持者" not in japanese["change"]

    english = items((await client.get("/staff/queue?lang=en")).text)
    expected = {
        "lost": "Reissue (lost card)",
        "name": "Reissue (name change)",
        "renewal": "Renewal",
        "change": "Change of details",
        "new": "New registration",
    }
    for name, label in expected.items():
        assert f">{label}</span>" in english[name], name
    assert "Patron to be identified" in english["name"]
    assert "Already holds a card" in english["new"]


# ------------------------------------------------------------------ each procedure


async def test_a_name_change_shows_old_and_new_names_side_by_side(
    client: Client, services: Services
) -> None:
    card = await registered_patron(services)
    public_id = await procedure_application(
        services,
        "reissue",
        patron_id=card.patron_id,
        reason="name_changed",
        family_name="佐藤",
        family_kana="サトウ",
    )
    await reviewer(client, services)

    page = (await client.get(f"{app_url(public_id)}?lang=en")).text
    assert "Reissue (name change)" in page
    name, kana = row(page, "name"), row(page, "kana")
    assert name.index("山田 花子") < name.index("佐藤 花子")
    assert "Changed" in name
    assert kana.index("ヤマダ\u3000ハナコ") < kana.index("サトウ\u3000ハナコ")
    checks = section(page, "checks-title")
    assert "The applicant acknowledged this notice on 3 Apr 2026, 10:00:" in checks
    assert services.settings.profile.procedures.eloan_notice.en in checks
    assert card.user_number in section(page, "patron-title")
    assert "The patron, logged in when applying" in section(page, "patron-title")
    assert f'action="{app_url(public_id)}/patron"' not in page  # a login fixes the patron
    assert "Approve and reissue with a new number" in page
    assert "eligibility-verdict" not in page  # the address did not change

    japanese = (await client.get(f"{app_url(public_id)}?lang=ja")).text
    assert "再発行（氏名変更）" in japanese
    assert "変更あり" in row(japanese, "name")
    assert services.settings.profile.procedures.eloan_notice.ja in japanese


async def test_a_reissue_without_the_acknowledgement_is_pointed_out(
    client: Client, services: Services
) -> None:
    card = await registered_patron(services)
    public_id = await procedure_application(
        services, "reissue", patron_id=card.patron_id, reason="lost", acknowledged=False
    )
    await reviewer(client, services)
    page = (await client.get(f"{app_url(public_id)}?lang=en")).text
    checks = section(page, "checks-title")
    assert "has not acknowledged that e-library loans" in checks
    assert "Suspended (reported lost)" in checks


async def test_a_renewal_shows_the_old_expiry_and_the_new_one(
    client: Client, services: Services, clock: time_machine.Traveller, profile_name: str
) -> None:
    card = await registered_patron(services)
    clock.move_to(IN_WINDOW)
    public_id = await procedure_application(services, "renewal", patron_id=card.patron_id)
    await reviewer(client, services)

    page = (await client.get(f"{app_url(public_id)}?lang=en")).text
    checks = section(page, "checks-title")
    new_expiry = {"yokohama": "2032-03-20", "kashiwa": "2032-04-03"}[profile_name]
    assert checks.index("2029-04-03") < checks.index(new_expiry)
    assert "New expiry date if approved today" in checks
    assert "The expiry date is near: within the renewal period." in checks
    assert "Changed" not in checks  # the details were confirmed as they are
    assert "Approve and renew" in page

    japanese = (await client.get(f"{app_url(public_id)}?lang=ja")).text
    assert "本日承認した場合の新しい有効期限" in japanese
    assert "有効期限更新" in japanese


async def test_a_change_of_address_shows_both_addresses_and_the_eligibility(
    client: Client, services: Services, profile_name: str
) -> None:
    card = await registered_patron(services)
    away = await procedure_application(
        services, "change", patron_id=card.patron_id, street="千代田1-1", **OUTSIDE
    )
    nearby = await procedure_application(
        services, "change", patron_id=card.patron_id, street="2-2", **MOVED[profile_name]
    )
    await reviewer(client, services)

    page = (await client.get(f"{app_url(away)}?lang=en")).text
    postal = row(page, "postal_code")
    form = FORMS[profile_name]
    old_code = form["postal_code"].translate(str.maketrans("０１２３４５６７８９－", "0123456789-"))
    assert postal.index(old_code) < postal.index("100-0001")
    address = row(page, "address")
    assert address.index(f"{form['prefecture']} {form['city']} {form['street']}") < address.index(
        "東京都 千代田区 千代田1-1"
    )
    verdict = section(page, "checks-title").split("eligibility-verdict", 1)[1]
    assert "Not eligible for online registration." in verdict
    # In English a place no profile names is given by its postal code, not in kanji.
    assert "Your address (postal code 100-0001) is outside the area" in verdict

    inside = (await client.get(f"{app_url(nearby)}?lang=ja")).text
    assert "登録資格があります。" in section(inside, "checks-title")
    assert "登録内容変更" in inside


# -------------------------------------------------------------------- confirmation


async def test_approving_needs_the_ticked_confirmation(client: Client, services: Services) -> None:
    card = await registered_patron(services)
    public_id = await procedure_application(services, "change", patron_id=card.patron_id)
    await reviewer(client, services)
    url = app_url(public_id)

    page = (await client.get(url)).text
    assert 'name="confirm" value="yes" required' in page  # the browser asks first
    missing = await post_form(client, f"{url}/approve", page=url)
    assert missing.status_code == 400
    assert '<p class="error" id="confirm-error">承認の確認欄にチェックを入れてください。' in (
        missing.text
    )
    assert (await load(services, public_id)).status == ApplicationStatus.SUBMITTED
    assert await outbox(services, "details_changed") == []

    done = await post_form(client, f"{url}/approve", page=url, confirm="yes")
    assert done.status_code == 303
    assert done.headers["location"] == f"/staff/queue?done=approved&decided={public_id}"
    shown = (await client.get(f"{url}?done=approved&lang=en")).text
    assert "Approved. The patron&#39;s details are updated" in shown
    assert len(await outbox(services, "details_changed")) == 1


# -------------------------------------------------------------------- who it is for


async def test_a_procedure_without_login_is_approved_only_after_the_pick(
    client: Client, services: Services
) -> None:
    card = await registered_patron(services)
    public_id = await procedure_application(services, "reissue", patron_id=None, reason="lost")
    await reviewer(client, services)
    url = app_url(public_id)

    page = (await client.get(f"{url}?lang=en")).text
    pick = section(page, "patron-title")
    assert f'name="patron_id" value="{card.patron_id}"' in pick
    assert card.user_number in pick
    assert "Valid" in pick
    assert "same name in katakana and date of birth, same email address, same phone number" in pick
    assert "045" in pick or "04-7" in pick  # the phone, as people write it
    assert "suspended at once as reported lost" in pick
    assert re.search(r'<button type="submit" disabled>Approve and reissue', page)

    refused = await post_form(client, f"{url}/approve?lang=ja", page=url, confirm="yes")
    assert refused.status_code == 409
    assert (
        '<p class="error" id="patron_id-error">承認の前に、この申請がどの利用者のものかを'
        in refused.text
    )
    nothing = await post_form(client, f"{url}/patron", page=url)
    assert nothing.status_code == 400
    assert "一覧の利用者から選んでください。" in nothing.text
    unknown = await post_form(client, f"{url}/patron?lang=en", page=url, user_number="1234567")
    assert unknown.status_code == 400
    assert '<p class="error" id="user_number-error">No card has this user number' in unknown.text
    assert 'value="1234567"' in unknown.text  # what was typed is kept
    assert (await load(services, public_id)).patron_id is None
    assert (await card_of(services, card.user_number)).status == CardStatus.ACTIVE

    linked = await post_form(client, f"{url}/patron", page=url, patron_id=str(card.patron_id))
    assert linked.status_code == 303
    assert linked.headers["location"] == f"{url}?done=linked"
    lost = await card_of(services, card.user_number)
    assert (lost.status, lost.status_reason) == (CardStatus.SUSPENDED, REPORTED_LOST)
    shown = (await client.get(f"{url}?done=linked&lang=en")).text
    assert "The application is now linked to the patron you chose." in shown
    assert "佐藤 花子" in section(shown, "patron-title")  # who chose
    assert "Choose another patron" in shown

    done = await post_form(client, f"{url}/approve", page=url, confirm="yes")
    assert done.status_code == 303
    approved = (await client.get(f"{url}?done=approved&lang=en")).text
    assert "Approved. A new user number is issued, the old number is revoked" in approved
    assert (await card_of(services, card.user_number)).status == CardStatus.REVOKED


async def test_the_pick_by_user_number(client: Client, services: Services) -> None:
    card = await registered_patron(services)
    public_id = await procedure_application(
        services, "renewal", patron_id=None, email="plastic@example.org", family_kana="ヤマモト"
    )
    await reviewer(client, services)
    url = app_url(public_id)
    page = (await client.get(f"{url}?lang=en")).text
    assert "No registered patron has this name in katakana" not in page  # the phone matches
    typed = card.user_number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    linked = await post_form(client, f"{url}/patron", page=url, user_number=typed)
    assert linked.status_code == 303
    app = await load(services, public_id)
    assert app.patron_id == card.patron_id
    assert app.previous["user_number"] == card.user_number
    assert (await card_of(services, card.user_number)).status == CardStatus.ACTIVE  # not lost


async def test_a_reissue_of_a_card_revoked_meanwhile_is_refused_with_nothing_changed(
    client: Client, services: Services
) -> None:
    card = await registered_patron(services)
    public_id = await procedure_application(
        services, "reissue", patron_id=card.patron_id, reason="name_changed", family_name="佐藤"
    )
    async with services.db.transaction() as session:  # withdrawn at the desk meanwhile
        found = await session.get(Card, card.id)
        assert found is not None
        await revoke_card(session, found, RevocationReason.WITHDRAWN, services.policy)
    await reviewer(client, services)
    url = app_url(public_id)

    refused = await post_form(client, f"{url}/approve?lang=en", page=url, confirm="yes")

    assert refused.status_code == 409
    assert '<p class="error" id="confirm-error">The patron&#39;s card no longer allows' in (
        refused.text
    )
    assert (await load(services, public_id)).status == ApplicationStatus.SUBMITTED
    async with services.db.transaction() as session:
        assert [c.user_number for c in await session.scalars(select(Card))] == [card.user_number]
    assert await outbox(services, "reissue_completed") == []
    assert (await load(services, public_id)).card_id is None


# ------------------------------------------------------------- after a reissue


async def test_after_a_reissue_the_counter_and_the_card_page_know_the_new_number(
    services: Services, profile_name: str
) -> None:
    # On the real clock: card tokens are signed by keys made now, not on a day in the past.
    async with web_client(with_free_catcher_port(services.settings), mail=False) as client:
        await _reissue_and_verify(client, services, profile_name)


async def _reissue_and_verify(client: Client, services: Services, profile_name: str) -> None:
    old = await registered_patron(services)
    old_token = card_token_of(services, old)
    public_id = await procedure_application(
        services, "reissue", patron_id=old.patron_id, reason="lost"
    )
    key = await counter_api_key(services)
    fmt = services.policy.number_format
    await reviewer(client, services)
    url = app_url(public_id)
    done = await post_form(client, f"{url}/approve", page=url, confirm="yes")
    assert done.status_code == 303
    app = await load(services, public_id)
    assert app.card_id is not None
    (mail,) = await outbox(services, "reissue_completed")
    new_number = re.search(r"新しい利用者番号：(\S+)", mail.body_text)
    assert new_number is not None
    new = await card_of(services, new_number.group(1))
    assert new.id == app.card_id

    revoked = {"status": "revoked", "reason": "reissued", "user_number": old.user_number}
    by_number = await verify(client, key, barcode=barcode_text(fmt, old.user_number))
    assert {k: by_number[k] for k in revoked} == revoked
    by_token = await verify(client, key, token=old_token)
    assert {k: by_token[k] for k in revoked} == revoked
    valid = await verify(client, key, barcode=barcode_text(fmt, new.user_number))
    assert valid["status"] == "valid"
    assert valid["user_number"] == new.user_number
    assert (await verify(client, key, token=card_token_of(services, new)))["status"] == "valid"

    # The patron signs in with the new number; the card page's barcode scans as it.
    async with web_client(with_free_catcher_port(services.settings), mail=False) as phone:
        login_page = await phone.get("/login")
        signed_in = await phone.post(
            "/login",
            data={
                "login": new.user_number,
                "password": FORMS[profile_name]["password"],
                "_csrf_token": csrf_from(login_page.text),
            },
        )
        assert signed_in.status_code == 303, signed_in.text
        card_page = await phone.get("/card")
    assert card_page.status_code == 200
    linear = [t for t, f in decoded_symbols(card_page.text) if f != zxingcpp.BarcodeFormat.QRCode]
    assert barcode_text(fmt, new.user_number) in linear
    assert old.user_number not in card_page.text


async def test_rejecting_a_lost_reissue_in_the_console_reinstates_the_card(
    client: Client, services: Services
) -> None:
    card = await registered_patron(services)
    public_id = await procedure_application(
        services, "reissue", patron_id=card.patron_id, reason="lost"
    )
    await reviewer(client, services)
    url = app_url(public_id)
    done = await post_form(client, f"{url}/reject", page=url, text="お名前が読み取れませんでした。")
    assert done.status_code == 303
    back = await card_of(services, card.user_number)
    assert (back.status, back.status_reason) == (CardStatus.ACTIVE, None)
    assert EMAIL in [m.to_address for m in await outbox(services, "application_rejected")]


def test_the_domains_messages_are_in_the_catalog() -> None:
    errors = [
        ApplicationPatronRequired,
        PatronChoiceInvalid,
        PatronNumberUnknown,
        PatronFixed,
        PatronPickedMeanwhile,
        PatronNotNeeded,
        ApplicationNoCard,
    ]
    assert [error().message for error in errors] == list(ERROR_MESSAGES)
    for message in ERROR_MESSAGES:
        assert translations("ja").gettext(message) != message
