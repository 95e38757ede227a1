"""Sample data for ``cardservice demo``: one patron with a card, a counter API key, a
reviewer and an administrator account, so a newcomer can walk the whole registration flow
locally, the card's life after it (the sample card expires within the renewal window, so
renewal is open), and the administrator's pages.

Made once per data directory; the key and the staff passwords are kept (0600) in the data
directory so that every start can print them again.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.calendar import local_today
from cardservice.cards.models import Card
from cardservice.cards.numbers import barcode_value
from cardservice.patrons.models import Patron
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.registration.japan import lookup_postal_code, normalise_postal_code
from cardservice.security.apikeys import create_api_key
from cardservice.security.passwords import hash_password
from cardservice.services import Services
from cardservice.settings import Settings
from cardservice.staff.models import Role, StaffUser
from cardservice.staff.service import create_staff

DEMO_EMAIL = "demo.patron@example.org"
DEMO_PATRON_PASSWORD = "demo-card-2026"  # noqa: S105  # the sample patron's, printed for trying
DEMO_REVIEWER = "reviewer"
DEMO_ADMIN = "admin"
# The sample card expires this soon, inside every shipped profile's renewal window.
DEMO_DAYS_LEFT = 20


async def _demo_staff(
    session: AsyncSession, settings: Settings, username: str, role: Role, display_name: str
) -> str:
    """The demo staff account ``username`` (made on first start with a generated password,
    kept 0600 in the data directory as ``demo-<username>-password``) and its password."""
    password_file = settings.data_dir / f"demo-{username}-password"
    existing = await session.scalar(select(StaffUser).where(StaffUser.username == username))
    if existing is None and not password_file.exists():
        password = secrets.token_urlsafe(12)
        await create_staff(session, username, password, role, display_name=display_name)
        _private_file(password_file, password)
    return password_file.read_text().strip()


def _private_file(path: Path, content: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)


def _at_sample_address(new: NewPatron, settings: Settings) -> NewPatron:
    """``new`` living at the profile's sample postal code, so that a change of details can
    change just one thing; as it is if Japan Post does not know the code."""
    code = settings.profile.library.sample_postal_code
    found = lookup_postal_code(code)
    if found is None:
        return new
    return dataclasses.replace(
        new,
        postal_code=normalise_postal_code(code),
        prefecture=found.prefecture,
        city=found.city,
        street=f"{found.town}1-1" if found.town else "1-1",
        phone="+81312345678",
    )


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
                    _at_sample_address(
                        NewPatron(
                            family_name="図書",
                            given_name="太郎",
                            family_kana="トショ",
                            given_kana="タロウ",
                            birth_date=date(1990, 4, 1),
                            email=DEMO_EMAIL,
                            password_hash=await hash_password(DEMO_PATRON_PASSWORD),
                        ),
                        settings,
                    ),
                    svc.policy,
                )
                card.expires_on = local_today(svc.policy.timezone) + timedelta(days=DEMO_DAYS_LEFT)
            key_file = settings.data_dir / "demo-api-key"
            if not key_file.exists():
                _, plain = await create_api_key(session, "demo counter")
                _private_file(key_file, plain)
            key = key_file.read_text().strip()
            reviewer_password = await _demo_staff(
                session, settings, DEMO_REVIEWER, Role.REVIEWER, "審査 担当"
            )
            admin_password = await _demo_staff(
                session, settings, DEMO_ADMIN, Role.ADMIN, "管理 担当"
            )
        symbology = settings.profile.barcode.symbology
        scanned = barcode_value(symbology, svc.policy.number_format, card.user_number)
    finally:
        await svc.close()
    base = settings.base_url
    return [
        "register as a patron would, with the built-in mail catcher:",
        f"  1. open {base}/apply and enter any email address",
        f"  2. log in at {base}/staff/login as {DEMO_REVIEWER} / {reviewer_password}",
        f"     and open the mail catcher ({base}/staff/mail) to follow the link in the email",
        f"  3. fill in the form (an address in {settings.profile.library.city.en}, e.g. postal code"
        f" {settings.profile.library.sample_postal_code}), upload a photo",
        f"  4. approve it in the queue ({base}/staff/queue); the email carries the card link",
        f"sample patron: log in at {base}/login with {DEMO_EMAIL} / {DEMO_PATRON_PASSWORD}",
        f"  My Library ({base}/my): renew the card (it expires soon), report it lost,",
        "  change the address or phone, the email or the password; the login page has",
        "  'forgotten user number' and 'forgotten password' (the emails are in the catcher)",
        f"staff card desk: {base}/staff/patrons (search, suspend, reissue at the counter)",
        f"administrator: {base}/staff/login as {DEMO_ADMIN} / {admin_password}",
        "  (the audit log, emergency-closure notices, rejection templates)",
        f"demo card: user number {card.user_number}, valid through {card.expires_on}",
        f"demo API key: {key}",
        "try:",
        f"  curl -s -X POST {base}/api/v1/verify -H 'X-API-Key: {key}' "
        f"-H 'Content-Type: application/json' -d '{{\"barcode\": \"{scanned}\"}}'",
        f"  open {base}/api/v1/barcodes/{symbology}/svg?data={scanned}",
        f"  open {base}/api/docs",
    ]
