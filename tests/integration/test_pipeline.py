"""The whole registration pipeline over HTTP, for both libraries' profiles, on both engines.

An applicant asks for a link, reads it in the email that a real SMTP server received (the
relay really speaks SMTP to aiosmtpd), applies with an ID photo, and submits; a reviewer
approves in the console; the completion email carries the user number; the patron logs in
and the card page's barcode decodes (zxing-cpp) to that number, and its QR token verifies at
``/api/v1/verify``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage

import pytest
import resvg_py
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from cardservice.cards.models import Card
from cardservice.cards.numbers import barcode_text
from cardservice.registration.models import Application, ApplicationStatus
from cardservice.security.apikeys import create_api_key
from cardservice.services import Services
from tests.registration_flow import FORMS, photo
from tests.unit.mail.support import SmtpSink, free_port, relay_to
from tests.web_support import Client, csrf_from, login, make_staff, web_client

APPLICANT = "hanako.yamada@example.org"
# Documents each profile's applicant sends: a health insurance card, both sides.
DOCUMENTS = (("health_insurance", "front"), ("health_insurance", "back"))


@pytest.fixture(params=["yokohama", "kashiwa"])
def profile_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(services.settings, mail=False) as running:
        yield running


async def deliver(services: Services, sink: SmtpSink) -> list[EmailMessage]:
    """Run the real relay once against the sink; every message the sink holds."""
    await relay_to(services, sink.port).run_once()
    return sink.messages()


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]  # EmailMessage part


def path_in(body: str, prefix: str) -> str:
    found = re.search(rf"https://cards\.example\.org({re.escape(prefix)}\S*)", body)
    assert found is not None, body
    return found.group(1)


async def post_form(client: Client, page: str, action: str, data: dict[str, str]) -> str:
    """Open ``page``, post ``data`` with its CSRF token to ``action``; the redirect target."""
    form = await client.get(page)
    assert form.status_code == 200, form.text
    response = await client.post(action, data={**data, "_csrf_token": csrf_from(form.text)})
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def decoded_symbols(html: str) -> list[tuple[str, zxingcpp.BarcodeFormat]]:
    """Every barcode zxing-cpp reads in the page's inline SVGs and data: images."""
    images: list[Image.Image] = []
    for svg in re.findall(r"<svg\b.*?</svg>", html, flags=re.S):
        images.append(_raster(svg))
    for kind, data in re.findall(r"data:image/(svg\+xml|png);base64,([A-Za-z0-9+/=]+)", html):
        raw = base64.b64decode(data)
        images.append(_raster(raw.decode()) if kind.startswith("svg") else _png(raw))
    found = []
    for image in images:
        found += [(r.text, r.format) for r in zxingcpp.read_barcodes(image)]
    return found


def _raster(svg: str) -> Image.Image:
    import io  # noqa: PLC0415

    return Image.open(io.BytesIO(bytes(resvg_py.svg_to_bytes(svg_string=svg, width=1600))))


def _png(raw: bytes) -> Image.Image:
    import io  # noqa: PLC0415

    return Image.open(io.BytesIO(raw))


async def test_from_email_to_a_card_that_scans(
    client: Client, services: Services, sink: SmtpSink, profile_name: str
) -> None:
    form = FORMS[profile_name]
    application = await _apply(client, services, sink, form)
    card = await _approve(client, services, sink, application)
    await _show_card(client, services, card, form["password"])
    async with services.db.transaction() as session:  # nothing was made twice
        assert await session.scalar(select(func.count()).select_from(Card)) == 1
        assert await session.scalar(select(func.count()).select_from(Application)) == 1


async def _apply(
    client: Client, services: Services, sink: SmtpSink, form: dict[str, str]
) -> Application:
    settings = services.settings
    # 1. Email first: the link arrives by SMTP.
    assert await post_form(client, "/apply", "/apply", {"email": APPLICANT}) == "/apply/sent"
    [verify_mail] = await deliver(services, sink)
    assert verify_mail["To"] == APPLICANT
    assert settings.profile.library.sender_email in verify_mail["From"]
    verify_path = path_in(text_of(verify_mail), "/apply/verify/")
    assert await post_form(client, verify_path, verify_path, {}) == "/apply/notes"

    # 2. Notes and consent; 3. the form; 4. the documents.
    notes = {"version": settings.profile.registration.notes_version, "agree": "on"}
    assert await post_form(client, "/apply/notes", "/apply/notes", notes) == "/apply/form"
    assert await post_form(client, "/apply/form", "/apply/form", form) == "/apply/documents"
    for doc_type, side in DOCUMENTS:
        page = await client.get("/apply/documents")
        response = await client.post(
            "/apply/documents",
            data={"doc_type": doc_type, "side": side, "_csrf_token": csrf_from(page.text)},
            files={"file": (f"{side}.jpg", photo(), "image/jpeg")},
        )
        assert response.status_code == 303, response.text

    # 5. Review and submit, twice (a double click): one application, one acceptance email.
    review = await client.get("/apply/review")
    assert review.status_code == 200
    assert "山田" in review.text
    token = csrf_from(review.text)
    for _ in range(2):
        response = await client.post("/apply/submit", data={"_csrf_token": token})
        assert response.status_code == 303
        assert response.headers["location"] == "/apply/done"
    assert (await client.get("/apply/done")).status_code == 200
    async with services.db.transaction() as session:
        [application] = list(await session.scalars(select(Application)))
    assert application.status == ApplicationStatus.SUBMITTED
    assert application.due_on is not None
    messages = await deliver(services, sink)
    assert len(messages) == 2
    assert messages[1]["To"] == APPLICANT
    assert str(application.due_on.day) in text_of(messages[1])
    return application


async def _approve(
    client: Client, services: Services, sink: SmtpSink, application: Application
) -> Card:
    await make_staff(services, "reviewer")
    await login(client, "reviewer")
    queue = await client.get("/staff/queue")
    assert application.public_id in queue.text
    detail_path = f"/staff/applications/{application.public_id}"
    approved = await post_form(client, detail_path, f"{detail_path}/approve", {"confirm": "yes"})
    # The queue is empty after the decision: the reviewer lands on it, told what was done.
    assert approved == f"/staff/queue?done=approved&decided={application.public_id}"
    async with services.db.transaction() as session:
        [card] = list(await session.scalars(select(Card)))
    messages = await deliver(services, sink)
    assert len(messages) == 3
    completed = text_of(messages[2])
    assert card.user_number in completed
    assert "https://cards.example.org/card" in completed
    assert await post_form(client, "/staff", "/staff/logout", {}) == "/staff/login"
    return card


async def _show_card(client: Client, services: Services, card: Card, password: str) -> None:
    """The patron logs in with the number from the email; the card scans and verifies."""
    login_data = {"login": card.user_number, "password": password}
    assert await post_form(client, "/login", "/login", login_data) == "/my"
    page = await client.get("/card")
    assert page.status_code == 200
    symbols = decoded_symbols(page.text)
    expected = barcode_text(services.policy.number_format, card.user_number)
    linear = [text for text, fmt in symbols if fmt != zxingcpp.BarcodeFormat.QRCode]
    assert expected in linear, symbols
    [token_text] = [text for text, fmt in symbols if fmt == zxingcpp.BarcodeFormat.QRCode]

    async with services.db.transaction() as session:
        _, api_key = await create_api_key(session, "counter 1")
    for body in ({"token": token_text}, {"barcode": expected}):
        verdict = await client.post("/api/v1/verify", json=body, headers={"X-API-Key": api_key})
        assert verdict.status_code == 200, verdict.text
        assert verdict.json()["status"] == "valid", verdict.text
        assert verdict.json()["user_number"] == card.user_number
