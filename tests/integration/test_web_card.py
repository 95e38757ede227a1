"""Patron login and the card page over HTTP, on both engines.

The barcode and the QR code are taken out of the page as it is served, rasterised with
resvg and decoded with zxing-cpp: what a counter scanner would read off the phone.
"""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import date, timedelta

import httpx
import msgspec
import pytest
import resvg_py
import zxingcpp
from PIL import Image

from cardservice.cards.models import Card, RevocationReason
from cardservice.cards.numbers import barcode_text
from cardservice.cards.service import issue_card, revoke_card, set_suspended
from cardservice.patrons.models import Patron
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.security import passwords
from cardservice.security.apikeys import create_api_key
from cardservice.services import Services
from cardservice.settings import Settings
from tests.web_support import Client, csrf_from, form_token, web_client, with_free_catcher_port

PASSWORD = "Shiori-2024!"
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_BARCODE_SVG = re.compile(r'<figure class="card-barcode"[^>]*>\s*(<svg.*?</svg>)', re.S)
_QR_SVG = re.compile(r'<div class="card-qr-code"[^>]*>\s*(<svg.*?</svg>)', re.S)
_SVG_WIDTH = re.compile(r'viewBox="0 0 (\d+) \d+"')


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


async def make_patron(
    services: Services, *, email: str = "hanako@example.org", password: str | None = PASSWORD
) -> Card:
    hashed = await passwords.hash_password(password) if password else None
    async with services.db.transaction() as session:
        return await create_patron_with_card(
            session,
            NewPatron(
                family_name="山田",
                given_name="花子",
                family_kana="やまだ",
                given_kana="はなこ",
                birth_date=date(1990, 4, 1),
                email=email,
                password_hash=hashed,
            ),
            services.policy,
        )


async def post_login(
    client: Client, login: str, password: str = PASSWORD, *, next_path: str = "", lang: str = ""
) -> httpx.Response:
    token = await form_token(client, f"/login?lang={lang}" if lang else "/login")
    return await client.post(
        "/login",
        data={"login": login, "password": password, "next": next_path, "_csrf_token": token},
    )


async def log_in(client: Client, login: str, password: str = PASSWORD) -> None:
    response = await post_login(client, login, password)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/my"


def decode_svg(
    svg: str, scale: int = 3, formats: zxingcpp.BarcodeFormat | None = None
) -> list[tuple[str, zxingcpp.BarcodeFormat]]:
    """The symbols zxing-cpp reads in ``svg``; ``formats`` narrows the search (a QR code's
    modules can now and then read as a short Codabar, as a scanner reading every format
    might)."""
    found = _SVG_WIDTH.search(svg)
    assert found, "the SVG has no viewBox"
    png = resvg_py.svg_to_bytes(svg_string=svg, width=int(found.group(1)) * scale)
    with Image.open(io.BytesIO(bytes(png))) as image:
        image.load()
        symbols = (
            zxingcpp.read_barcodes(image)
            if formats is None
            else zxingcpp.read_barcodes(image, formats=formats)
        )
    return [(symbol.text, symbol.format) for symbol in symbols]


def barcode_svg(html: str) -> str:
    found = _BARCODE_SVG.search(html)
    assert found, "the page has no inline barcode"
    return found.group(1)


def qr_svg(html: str) -> str:
    found = _QR_SVG.search(html)
    assert found, "the page has no inline QR code"
    return found.group(1)


# --- login --------------------------------------------------------------------------------


async def test_login_page_is_a_labelled_form(client: Client) -> None:
    page = await client.get("/login")
    assert page.status_code == 200
    assert '<label for="login">利用者番号またはメールアドレス</label>' in page.text
    assert '<label for="password">パスワード</label>' in page.text
    assert 'autocomplete="current-password"' in page.text
    assert 'name="_csrf_token"' in page.text
    english = await client.get("/login?lang=en")
    assert '<label for="login">User number or email address</label>' in english.text


async def test_card_needs_a_login(client: Client) -> None:
    response = await client.get("/card")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/card"
    form = await client.get(response.headers["location"])
    assert 'name="next" value="/card"' in form.text


async def test_login_by_number_shows_the_card_with_a_barcode_that_scans(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    await log_in(client, f" {card.user_number[:4]}-{card.user_number[4:]} ".translate(FULL_WIDTH))
    page = await client.get("/card")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "山田 花子" in page.text
    assert f'<dd class="card-number">{card.user_number}</dd>' in page.text
    assert card.expires_on.isoformat() in page.text
    assert "有効" in page.text
    assert "画面の明るさ" in page.text
    assert "Wallet" not in page.text
    assert '<script src="/static/card.js" defer></script>' in page.text
    expected = barcode_text(services.policy.number_format, card.user_number)
    assert decode_svg(barcode_svg(page.text)) == [(expected, zxingcpp.BarcodeFormat.Codabar)]


async def test_qr_holds_a_token_that_verifies(client: Client, services: Services) -> None:
    card = await make_patron(services)
    await log_in(client, "Hanako@Example.org")
    page = await client.get("/card")
    decoded = decode_svg(qr_svg(page.text), scale=4, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(decoded) == 1
    token, symbology = decoded[0]
    assert symbology == zxingcpp.BarcodeFormat.QRCode
    claims = services.tokens.verify(token)
    assert (claims.user_number, claims.jti) == (card.user_number, card.token_jti)
    async with services.db.transaction() as session:
        _, key = await create_api_key(session, "counter")
    answer = await client.post("/api/v1/verify", json={"token": token}, headers={"X-API-Key": key})
    assert answer.json()["status"] == "valid"


@pytest.mark.parametrize("profile_name", ["kashiwa"])
async def test_kashiwa_barcode_has_its_own_start_and_stop(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    await log_in(client, card.user_number)
    page = await client.get("/card")
    text = barcode_text(services.policy.number_format, card.user_number)
    assert text.startswith("B")
    assert text.endswith("B")
    assert decode_svg(barcode_svg(page.text)) == [(text, zxingcpp.BarcodeFormat.Codabar)]


async def test_code128_profile_encodes_the_bare_number(services: Services) -> None:
    card = await make_patron(services)
    profile = services.settings.profile
    code128 = msgspec.structs.replace(
        profile, barcode=msgspec.structs.replace(profile.barcode, symbology="code128")
    )
    settings: Settings = with_free_catcher_port(services.settings, profile=code128)
    async with web_client(settings, mail=False) as client:
        await log_in(client, card.user_number)
        page = await client.get("/card")
    decoded = decode_svg(barcode_svg(page.text))
    assert decoded == [(card.user_number, zxingcpp.BarcodeFormat.Code128)]


async def test_failures_answer_alike_and_keep_what_was_typed(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    await make_patron(services, email="nopass@example.org", password=None)
    answers = [
        await post_login(client, card.user_number, "wrong-password-1!"),
        await post_login(client, "nobody@example.org", "wrong-password-1!"),
        await post_login(client, "nopass@example.org", "wrong-password-1!"),
        await post_login(client, "12345", "wrong-password-1!"),
    ]
    for response in answers:
        assert response.status_code == 401
        text = response.text
        assert "利用者番号、メールアドレスまたはパスワードが正しくありません。" in text
        assert "wrong-password-1!" not in text
        cookies = response.headers.get_list("set-cookie")
        assert not any(c.startswith("session=") for c in cookies)
    assert f'value="{card.user_number}"' in answers[0].text
    english = await post_login(client, "nobody@example.org", "x", lang="en")
    assert "The user number, email address or password is wrong." in english.text


async def test_too_many_attempts_get_429_for_known_and_unknown_alike(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    for login in (card.user_number, "nobody@example.org"):
        for _ in range(10):
            await post_login(client, login, "wrong-password-1!")
    for login, password in ((card.user_number, PASSWORD), ("nobody@example.org", PASSWORD)):
        response = await post_login(client, login, password)
        assert response.status_code == 429
        assert response.headers["retry-after"] == "60"
        text = response.text
        assert "ログインの試行回数が多すぎます" in text
        assert "正しくありません" not in text
    assert (await client.get("/card")).status_code == 303


async def test_login_returns_only_to_the_patron_pages(client: Client, services: Services) -> None:
    card = await make_patron(services)
    for outside in ("https://evil.example/", "//evil.example/card", "/card/../staff", "/staff"):
        answer = await post_login(client, card.user_number, next_path=outside)
        assert answer.headers["location"] == "/my", outside
    for inside in ("/card?lang=en", "/card", "/my/password", "/my?lang=en"):
        answer = await post_login(client, card.user_number, next_path=inside)
        assert answer.headers["location"] == inside


async def test_logout_clears_the_session_and_the_saved_copy(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    await log_in(client, card.user_number)
    page = await client.get("/card")
    out = await client.post("/logout", data={"_csrf_token": csrf_from(page.text)})
    assert out.status_code == 303
    assert out.headers["location"] == "/login"
    assert out.headers["clear-site-data"] == '"cache", "storage"'
    assert (await client.get("/card")).status_code == 303


async def test_logout_without_csrf_token_is_refused(client: Client, services: Services) -> None:
    card = await make_patron(services)
    await log_in(client, card.user_number)
    refused = await client.post("/logout")
    assert refused.status_code == 403
    assert "csrf_failed" in refused.text
    assert (await client.get("/card")).status_code == 200  # still logged in


async def test_login_without_csrf_token_is_refused(client: Client, services: Services) -> None:
    card = await make_patron(services)
    refused = await client.post("/login", data={"login": card.user_number, "password": PASSWORD})
    assert refused.status_code == 403
    assert "フォームの有効期限" in refused.text or "csrf_failed" in refused.text


async def test_changed_password_ends_the_session(client: Client, services: Services) -> None:
    card = await make_patron(services)
    await log_in(client, card.user_number)
    async with services.db.transaction() as session:
        patron = await session.get(Patron, card.patron_id)
        assert patron is not None
        patron.password_hash = await passwords.hash_password("Another-pass-99")
    response = await client.get("/card")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/card"


# --- card states --------------------------------------------------------------------------


async def _change(services: Services, card: Card, **values: object) -> None:
    async with services.db.transaction() as session:
        stored = await session.get(Card, card.id)
        assert stored is not None
        for name, value in values.items():
            setattr(stored, name, value)


async def test_expired_card_says_so_and_shows_no_token(client: Client, services: Services) -> None:
    card = await make_patron(services)
    await _change(services, card, expires_on=date.today() - timedelta(days=3))
    await log_in(client, card.user_number)
    page = await client.get("/card?lang=en")
    assert "Status: </span>" in page.text
    assert "Expired" in page.text
    assert "This card expired on" in page.text
    assert "card-qr-code" not in page.text
    expected = barcode_text(services.policy.number_format, card.user_number)
    assert decode_svg(barcode_svg(page.text)) == [(expected, zxingcpp.BarcodeFormat.Codabar)]


async def test_suspended_card_says_so(client: Client, services: Services) -> None:
    card = await make_patron(services)
    async with services.db.transaction() as session:
        stored = await session.get(Card, card.id)
        assert stored is not None
        set_suspended(stored, "overdue")
    await log_in(client, card.user_number)
    japanese = await client.get("/card")
    assert "利用停止中" in japanese.text
    english = await client.get("/card?lang=en")
    assert "Suspended" in english.text
    assert "cannot be used to borrow" in english.text


async def test_revoked_only_card_says_so_without_a_barcode(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    async with services.db.transaction() as session:
        stored = await session.get(Card, card.id)
        assert stored is not None
        await revoke_card(session, stored, RevocationReason.LOST, services.policy)
    await log_in(client, "hanako@example.org")
    page = await client.get("/card?lang=en")
    assert page.status_code == 200
    assert "No longer valid (revoked)" in page.text
    assert "<svg" not in page.text


async def test_after_a_reissue_the_new_card_is_shown(client: Client, services: Services) -> None:
    old = await make_patron(services)
    async with services.db.transaction() as session:
        stored = await session.get(Card, old.id)
        assert stored is not None
        await revoke_card(session, stored, RevocationReason.REISSUED, services.policy)
        new = await issue_card(session, old.patron_id, services.policy)
    await log_in(client, new.user_number)
    page = await client.get("/card")
    assert f'<dd class="card-number">{new.user_number}</dd>' in page.text
    assert old.user_number not in page.text


# --- offline ------------------------------------------------------------------------------


async def test_service_worker_is_served_from_the_root(client: Client) -> None:
    response = await client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache"
    assert "caches.open" in response.text
    assert 'const CARD = "/card";' in response.text
    script = await client.get("/static/card.js")
    assert script.status_code == 200
    assert 'register("/sw.js", { scope: "/card" })' in script.text


async def test_the_offline_note_is_in_the_page_for_the_worker_to_show(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    await log_in(client, card.user_number)
    page = await client.get("/card")
    worker = (await client.get("/sw.js")).text
    hidden = re.search(r'const OFFLINE_NOTE_HIDDEN = "([^"]+)";', worker)
    assert hidden
    assert page.text.count(hidden.group(1)) == 1
    assert "vary" not in page.headers  # the Cache API refuses "Vary: *"
