"""Rejection templates and the audit log over HTTP: who may read and change them, field
errors in the page's language, audit entries, and paging back through the log."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from cardservice.registration import review
from cardservice.registration.models import RejectionTemplate
from cardservice.services import Services
from cardservice.staff import audit
from cardservice.staff.models import AuditEntry, Role
from tests.registration_flow import seed_rejection_templates, submitted_application
from tests.web_support import (
    Client,
    csrf_from,
    login,
    make_staff,
    web_client,
    with_free_catcher_port,
)

TEMPLATES = "/staff/rejection-templates"
NEW_TEMPLATE = {
    "code": "photo_cut_off",
    "text_ja": "書類の一部が写っていませんでした。書類全体が入るように撮影してください。",
    "text_en": "Part of the document was cut off. Please photograph the whole document.",
}


@pytest.fixture
def profile_name() -> str:
    return "kashiwa"


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


async def log_in_as(client: Client, services: Services, role: Role) -> None:
    await make_staff(services, "sato", role, display_name="佐藤 花子")
    await login(client, "sato")


async def post_form(client: Client, path: str, *, page: str = TEMPLATES, **fields: str) -> Any:
    shown = await client.get(page)
    assert shown.status_code == 200, shown.text
    return await client.post(path, data={**fields, "_csrf_token": csrf_from(shown.text)})


async def templates_by_code(services: Services) -> dict[str, RejectionTemplate]:
    async with services.db.transaction() as session:
        return {t.code: t for t in await session.scalars(select(RejectionTemplate))}


async def actions(services: Services, target_type: str) -> list[str]:
    async with services.db.transaction() as session:
        rows = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.target_type == target_type)
            .order_by(AuditEntry.id)
        )
        return list(rows)


async def test_admin_adds_edits_and_deactivates_a_template(
    client: Client, services: Services
) -> None:
    await seed_rejection_templates(services)
    await log_in_as(client, services, Role.ADMIN)

    created = await post_form(client, TEMPLATES, **NEW_TEMPLATE)
    assert created.status_code == 303
    template = (await templates_by_code(services))["photo_cut_off"]
    assert created.headers["location"] == f"{TEMPLATES}?done=created#template-{template.id}"
    assert (template.text_ja, template.text_en, template.active) == (
        NEW_TEMPLATE["text_ja"],
        NEW_TEMPLATE["text_en"],
        True,
    )
    page = await client.get(f"{TEMPLATES}?done=created&lang=en")
    assert "The template has been added." in page.text
    assert NEW_TEMPLATE["text_en"] in page.text

    new_en = "Part of the document was cut off.\nPlease photograph all four corners."
    updated = await post_form(
        client,
        f"{TEMPLATES}/{template.id}",
        code="ignored",
        text_ja=NEW_TEMPLATE["text_ja"],
        text_en=new_en,
    )
    assert updated.status_code == 303
    template = (await templates_by_code(services))["photo_cut_off"]
    assert template.text_en == new_en  # the line break is kept; the code never changes

    gone = await post_form(client, f"{TEMPLATES}/{template.id}/deactivate")
    assert gone.status_code == 303
    assert not (await templates_by_code(services))["photo_cut_off"].active
    async with services.db.transaction() as session:
        assert template.id not in [t.id for t in await review.rejection_templates(session)]
    page = await client.get(f"{TEMPLATES}?lang=en")
    assert "Deactivated" in page.text
    assert f'action="{TEMPLATES}/{template.id}/activate"' in page.text

    back = await post_form(client, f"{TEMPLATES}/{template.id}/activate")
    assert back.status_code == 303
    assert (await templates_by_code(services))["photo_cut_off"].active

    assert await actions(services, "rejection_template") == [
        "rejection_template.create",
        "rejection_template.update",
        "rejection_template.deactivate",
        "rejection_template.activate",
    ]


async def test_a_deactivated_template_is_not_offered_to_reviewers(
    client: Client, services: Services
) -> None:
    await seed_rejection_templates(services)
    public_id = await submitted_application(services)
    await log_in_as(client, services, Role.ADMIN)
    first = next(iter((await templates_by_code(services)).values()))
    url = f"/staff/applications/{public_id}"
    offered = f'<option value="{first.id}">{first.text_ja[:20]}'
    assert offered in (await client.get(url)).text
    await post_form(client, f"{TEMPLATES}/{first.id}/deactivate")
    assert offered not in (await client.get(url)).text
    refused = await post_form(client, f"{url}/reject", page=url, template_id=str(first.id))
    assert refused.status_code == 400


async def test_field_errors_are_shown_by_their_fields_and_the_text_kept(
    client: Client, services: Services
) -> None:
    await seed_rejection_templates(services)
    await log_in_as(client, services, Role.ADMIN)

    bad = await post_form(client, TEMPLATES, code="Bad Code!", text_ja="", text_en="Kept text")
    assert bad.status_code == 400
    assert '<p class="error" id="new-code-error">コードは英小文字で始め' in bad.text
    assert '<p class="error" id="new-text_ja-error">必須項目です。' in bad.text
    assert "new-text_en-error" not in bad.text
    assert "Kept text</textarea>" in bad.text
    assert 'value="Bad Code!"' in bad.text

    taken = await post_form(
        client, f"{TEMPLATES}?lang=en", **{**NEW_TEMPLATE, "code": "unreadable_image"}
    )
    assert taken.status_code == 400
    assert '<p class="error" id="new-code-error">This code is already in use' in taken.text

    existing = (await templates_by_code(services))["unreadable_image"]
    empty = await post_form(
        client, f"{TEMPLATES}/{existing.id}?lang=en", text_ja="", text_en="still here"
    )
    assert empty.status_code == 400
    assert (
        f'<p class="error" id="t{existing.id}-text_ja-error">This field is required.' in empty.text
    )
    assert "still here</textarea>" in empty.text
    assert (await templates_by_code(services))["unreadable_image"].text_ja == existing.text_ja

    missing = await post_form(client, f"{TEMPLATES}/999999/deactivate")
    assert missing.status_code == 404
    assert "<code>rejection_template_not_found</code>" in missing.text
    assert await actions(services, "rejection_template") == []


async def test_reviewers_read_templates_but_do_not_change_them(
    client: Client, services: Services
) -> None:
    await seed_rejection_templates(services)
    await log_in_as(client, services, Role.REVIEWER)
    page = await client.get(f"{TEMPLATES}?lang=en")
    assert page.status_code == 200
    assert "Only administrators can change the templates." in page.text
    assert "unreadable_image" in page.text
    assert 'action="/staff/rejection-templates"' not in page.text
    refused = await post_form(client, TEMPLATES, **NEW_TEMPLATE)
    assert refused.status_code == 403
    assert "photo_cut_off" not in await templates_by_code(services)
    assert (await client.get("/staff/audit")).status_code == 403
    home = await client.get("/staff")
    assert 'href="/staff/rejection-templates"' in home.text
    assert 'href="/staff/audit"' not in home.text


async def test_the_audit_log_pages_back_newest_first(client: Client, services: Services) -> None:
    await log_in_as(client, services, Role.ADMIN)
    async with services.db.transaction() as session:
        for n in range(60):
            await audit.record(
                session,
                staff_id=None,
                action="application.document_view",
                target_type="application",
                target_id=f"app{n:02d}",
                detail={"document_id": n},
            )
    home = await client.get("/staff")
    assert 'href="/staff/audit"' in home.text

    first = await client.get("/staff/audit?lang=en")
    assert first.status_code == 200
    rows = first.text.count("<tr>") - 1  # less the header row
    assert rows == 50
    # Newest first: the last entry made (besides logins) is at the top.
    assert first.text.index("app59") < first.text.index("app58")
    assert "System" in first.text
    assert "document_id=59" in first.text
    assert 'href="/staff/applications/app59"' in first.text
    older = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert older.startswith("/staff/audit?before=")

    second = await client.get(f"{older}&lang=en")
    assert second.status_code == 200
    assert "app09" in second.text
    assert "app10" not in second.text
    assert "佐藤 花子" in second.text  # the staff.create and login entries, with the name
    assert 'rel="next"' not in second.text
    assert "Newest entries" in second.text

    nonsense = await client.get("/staff/audit?before=abc&lang=en")
    assert nonsense.status_code == 200
    huge = await client.get("/staff/audit?before=99999999999&lang=en")
    assert huge.status_code == 200
    assert "app59" in huge.text


async def test_the_audit_log_names_the_operator_of_a_command(
    client: Client, services: Services
) -> None:
    """An entry a `cardservice` command wrote (no staff member, ``actor`` cli:<user> in its
    detail) reads as the command line and who ran it, not as the system."""
    await log_in_as(client, services, Role.ADMIN)
    async with services.db.transaction() as session:
        await audit.record(
            session,
            staff_id=None,
            action="api_key.create",
            target_type="api_key",
            target_id="1",
            detail={"actor": "cli:root(sudo:alice)"},
        )
    page = await client.get("/staff/audit")
    assert "コマンド操作（root(sudo:alice)）" in page.text
    english = await client.get("/staff/audit?lang=en")
    assert "Command line (root(sudo:alice))" in english.text
