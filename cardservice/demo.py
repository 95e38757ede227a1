"""Sample data for ``cardservice demo``: one patron with a card, and a counter API key.

Made once per data directory; the key is kept (0600) in the data directory so that every
start can print it again.
"""

from __future__ import annotations

import os
from datetime import date

from sqlalchemy import select

from cardservice.cards.models import Card
from cardservice.cards.numbers import barcode_text
from cardservice.patrons.models import Patron
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.security.apikeys import create_api_key
from cardservice.services import Services
from cardservice.settings import Settings

DEMO_EMAIL = "demo.patron@example.org"


async def prepare_demo(settings: Settings) -> list[str]:
    svc = Services.build(settings)
    try:
        async with svc.db.transaction() as session:
            card = await session.scalar(
                select(Card).join(Patron).where(Patron.email == DEMO_EMAIL).limit(1)
            )
            if card is None:
                card = await create_patron_with_card(
                    session,
                    NewPatron(
                        family_name="図書",
                        given_name="太郎",
                        family_kana="トショ",
                        given_kana="タロウ",
                        birth_date=date(1990, 4, 1),
                        email=DEMO_EMAIL,
                    ),
                    svc.policy,
                )
            key_file = settings.data_dir / "demo-api-key"
            if not key_file.exists():
                _, plain = await create_api_key(session, "demo counter")
                descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w") as handle:
                    handle.write(plain)
            key = key_file.read_text().strip()
        scanned = barcode_text(svc.policy.number_format, card.user_number)
    finally:
        await svc.close()
    base = f"http://{settings.host}:{settings.port}"
    return [
        f"demo card: user number {card.user_number}, valid through {card.expires_on}",
        f"demo API key: {key}",
        "try:",
        f"  curl -s -X POST {base}/api/v1/verify -H 'X-API-Key: {key}' "
        f"-H 'Content-Type: application/json' -d '{{\"barcode\": \"{scanned}\"}}'",
        f"  open {base}/api/v1/barcodes/codabar/svg?data={scanned}",
        f"  open {base}/api/docs",
    ]
