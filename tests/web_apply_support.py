"""Helpers for the applicant's pages over HTTP: each step as a browser would take it, with
the link read from the outbox as the applicant would read it from their mail."""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from cardservice.mail.models import OutboxRow
from cardservice.registration.models import Application
from cardservice.services import Services
from tests.registration_flow import EMAIL, FORMS, outbox
from tests.web_support import Client, csrf_from, form_token, web_client, with_free_catcher_port

_VERIFY_LINK = re.compile(r"/apply/verify/([A-Za-z0-9_-]+)")


# Fixtures for the applicant's test modules, which import them by name.


@pytest.fixture(name="client")
async def applicant_client(services: Services) -> AsyncIterator[Client]:
    """The app of ``services`` without sending mail, as the applicant's browser sees it."""
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


@pytest.fixture(name="draft")
async def draft_with_form(client: Client, services: Services) -> Client:
    """The ``client`` fixture, whose session holds a draft with consent and the form saved
    (the module imports ``applicant_client`` too)."""
    await open_draft(client, services)
    await agree(client, services)
    saved = await fill_form(client, services)
    assert saved.status_code == 303, saved.text
    return client


async def ask_link(client: Client, email: str = EMAIL) -> Any:
    token = await form_token(client, "/apply")
    return await client.post("/apply", data={"email": email, "_csrf_token": token})


async def verify_rows(services: Services, email: str = EMAIL) -> list[OutboxRow]:
    return [row for row in await outbox(services, "verify_email") if row.to_address == email]


async def link_token(services: Services, email: str = EMAIL) -> str:
    """The token of the latest verification link sent to ``email``."""
    rows = await verify_rows(services, email)
    assert rows, f"no verification email to {email}"
    found = _VERIFY_LINK.search(rows[-1].body_text)
    assert found is not None, rows[-1].body_text
    return found.group(1)


async def follow_link(client: Client, token: str) -> Any:
    page = await client.get(f"/apply/verify/{token}")
    assert page.status_code == 200, page.text
    return await client.post(f"/apply/verify/{token}", data={"_csrf_token": csrf_from(page.text)})


async def open_draft(client: Client, services: Services, email: str = EMAIL) -> None:
    """Email, link, "Continue": the session now holds a draft."""
    assert (await ask_link(client, email)).status_code == 303
    opened = await follow_link(client, await link_token(services, email))
    assert opened.status_code == 303, opened.text
    assert opened.headers["location"] == "/apply/notes"


async def agree(client: Client, services: Services) -> Any:
    """Agree to the notes the page shows, in the version the page names."""
    page = await client.get("/apply/notes")
    assert page.status_code == 200, page.text
    found = re.search(r'name="version" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return await client.post(
        "/apply/notes",
        data={"version": found.group(1), "agree": "on", "_csrf_token": csrf_from(page.text)},
    )


async def post_form(client: Client, form: dict[str, str]) -> Any:
    token = await form_token(client, "/apply/form")
    return await client.post("/apply/form", data={**form, "_csrf_token": token})


async def fill_form(client: Client, services: Services, **changes: str) -> Any:
    return await post_form(client, {**FORMS[services.settings.profile.id], **changes})


async def upload(
    client: Client,
    doc_type: str,
    side: str,
    data: bytes,
    *,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
) -> Any:
    token = await form_token(client, "/apply/documents")
    return await client.post(
        "/apply/documents",
        data={"doc_type": doc_type, "side": side, "_csrf_token": token},
        files={"file": (filename, data, content_type)},
    )


async def ready_to_submit(client: Client, services: Services, photo: bytes) -> None:
    """A draft with consent, the form and both sides of the health insurance card."""
    await open_draft(client, services)
    assert (await agree(client, services)).status_code == 303
    saved = await fill_form(client, services)
    assert saved.status_code == 303, saved.text
    for side in ("front", "back"):
        added = await upload(client, "health_insurance", side, photo)
        assert added.status_code == 303, added.text


async def applications(services: Services) -> list[Application]:
    async with services.db.transaction() as session:
        return list(await session.scalars(select(Application).order_by(Application.id)))


def pixel_bomb_png(width: int = 50_000, height: int = 50_000) -> bytes:
    """A small PNG whose header declares ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def psd_header() -> bytes:
    """The start of a Photoshop file: signature, version 1, 3 channels, 400x640, 8 bits, RGB."""
    return b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 400, 640, 8, 3) + b"\x00" * 64


def png_photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), (200, 210, 230)).save(buffer, "PNG")
    return buffer.getvalue()
