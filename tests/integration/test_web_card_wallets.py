"""The wallet buttons over HTTP, on both engines: offered for a valid card when the library
configured the wallet, not for a suspended card, and not a word of wallets when nothing is
configured; the card's colours come from the profile through ``/card/colours.css``, which,
like the other publicly cached answers, sets no cookie."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import msgspec

from cardservice.cards.models import Card
from cardservice.cards.service import set_suspended
from cardservice.services import Services
from passes.google import SAVE_LINK_LIFETIME, SAVE_URL
from tests.google_wallet_support import ISSUER_ID, write_key_file
from tests.integration.test_web_card import log_in, make_patron
from tests.web_support import web_client, with_free_catcher_port

GOOGLE_LINK = "Google ウォレットに追加"


async def test_wallets_offered_as_configured_for_a_valid_card_only(
    services: Services, tmp_path: Path
) -> None:
    card = await make_patron(services)
    plain = with_free_catcher_port(services.settings)
    async with web_client(plain, mail=False) as client:
        await log_in(client, card.user_number)
        for path in ("/card", "/my"):
            page = await client.get(path)
            assert page.status_code == 200
            assert "ウォレット" not in page.text
            assert "Wallet" not in page.text
            assert "wallet-button" not in page.text
        colours = await client.get("/card/colours.css")
        # Responses any cache may keep carry no cookie of the logged-in patron's (their
        # session, their CSRF token), whoever asks for them.
        for public in ("/card/colours.css", "/.well-known/jwks.json", "/static/lang.js"):
            answer = await client.get(public)
            assert answer.status_code == 200, public
            assert "public" in answer.headers["cache-control"], public
            assert "set-cookie" not in answer.headers, public
        assert (await client.get("/card")).status_code == 200  # still logged in
    assert colours.status_code == 200
    assert colours.headers["content-type"].startswith("text/css")
    assert "--card-bg: #0b4f9c;" in colours.text  # example.toml [colours]
    assert "--card-ink: #ffffff;" in colours.text

    google = msgspec.structs.replace(
        plain, google_wallet_issuer_id=ISSUER_ID, google_wallet_key_file=write_key_file(tmp_path)
    )
    async with web_client(google, mail=False) as client:
        await log_in(client, card.user_number)
        for path in ("/card", "/my"):
            page = await client.get(path)
            assert GOOGLE_LINK in page.text, path
            assert "Apple Wallet" not in page.text  # not configured
        start = page.text.index(f'href="{SAVE_URL}') + len('href="')
        url = page.text[start : page.text.index('"', start)]
        claims = jwt.decode(url.removeprefix(SAVE_URL), options={"verify_signature": False})
        # Signed for this page view, and for a short while only.
        assert claims["exp"] - claims["iat"] == SAVE_LINK_LIFETIME.total_seconds()
        assert abs(claims["iat"] - time.time()) < 60
        [pass_object] = claims["payload"]["genericObjects"]
        assert pass_object["barcode"]["alternateText"] == card.user_number
        assert pass_object["header"]["defaultValue"]["value"] == "山田 花子"

        async with services.db.transaction() as session:
            set_suspended(await session.get_one(Card, card.id), "staff")
        for path in ("/card", "/my"):
            page = await client.get(path)
            assert GOOGLE_LINK not in page.text, path
