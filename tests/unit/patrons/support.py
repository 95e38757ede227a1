"""Helpers for the patron tests: patrons with cards, logins over HTTP, mail and its links."""

from __future__ import annotations

import re
from datetime import date

import httpx
from sqlalchemy import select

from cardservice.cards.models import Card
from cardservice.mail.models import OutboxRow
from cardservice.patrons.models import Patron, PatronDevice, PatronSource
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.security import passwords
from cardservice.services import Services
from tests.web_support import Client, csrf_from, form_token

# Under both profiles' policies: Yokohama's composition rule (8-15, a letter, a digit, a
# symbol) and Kashiwa's NIST rule (8-64, not common, not the email address).
PASSWORD = "Shiori-2024!"
NEW_PASSWORD = "Tosho-kan7?"
BIRTH = date(1990, 4, 1)
EMAIL = "hanako@example.org"


async def make_patron(
    services: Services,
    *,
    email: str = EMAIL,
    password: str | None = PASSWORD,
    given: str = "花子",
    birth_date: date = BIRTH,
    source: PatronSource = PatronSource.ONLINE,
) -> Card:
    """A patron with one card; ``password=None`` is an imported patron without one."""
    hashed = await passwords.hash_password(password) if password else None
    async with services.db.transaction() as session:
        return await create_patron_with_card(
            session,
            NewPatron(
                family_name="山田",
                given_name=given,
                family_kana="やまだ",
                given_kana="はなこ",
                birth_date=birth_date,
                email=email,
                phone="+81452627334",
                postal_code="2310005",
                prefecture="神奈川県",
                city="横浜市中区",
                street="本町1-1",
                password_hash=hashed,
                notifications={"expiry_near": True},
                source=source,
            ),
            services.policy,
        )


async def post_login(
    client: Client, login: str, password: str = PASSWORD, *, keep: bool = False, next_path: str = ""
) -> httpx.Response:
    token = await form_token(client, "/login")
    data = {"login": login, "password": password, "next": next_path, "_csrf_token": token}
    if keep:
        data["keep"] = "on"
    return await client.post("/login", data=data)


async def log_in(
    client: Client, login: str, password: str = PASSWORD, *, keep: bool = False
) -> httpx.Response:
    response = await post_login(client, login, password, keep=keep)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/my"
    return response


async def post_page_form(
    client: Client, page: str, data: dict[str, str], *, action: str | None = None
) -> httpx.Response:
    """Open ``page`` and send its form (to ``action``, else the page itself) with ``data``."""
    form = await client.get(page)
    assert form.status_code == 200, form.text
    return await client.post(action or page, data={**data, "_csrf_token": csrf_from(form.text)})


async def mails(services: Services, template: str) -> list[OutboxRow]:
    async with services.db.transaction() as session:
        found = await session.scalars(
            select(OutboxRow).where(OutboxRow.template == template).order_by(OutboxRow.id)
        )
        return list(found)


def path_in(body: str, prefix: str) -> str:
    """The path of the first link in ``body`` that starts with ``prefix``."""
    found = re.search(rf"https://cards\.example\.org({re.escape(prefix)}[^\s\"<]*)", body)
    assert found is not None, body
    return found.group(1)


async def patron(services: Services, patron_id: int) -> Patron:
    async with services.db.transaction() as session:
        found = await session.get(Patron, patron_id)
        assert found is not None
        return found


async def devices_of(services: Services, patron_id: int) -> list[PatronDevice]:
    async with services.db.transaction() as session:
        found = await session.scalars(
            select(PatronDevice).where(PatronDevice.patron_id == patron_id)
        )
        return list(found)


def set_cookie(response: httpx.Response, name: str) -> str:
    """The Set-Cookie header for cookie ``name``, lower-cased; "" when there is none."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header.lower()
    return ""
