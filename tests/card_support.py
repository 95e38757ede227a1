"""A card as the tests meet it: a patron registered with the profile's sample form, the
card's signed token, and the counter's ``/api/v1/verify`` with an API key. The ``api_key``
fixture (tests/conftest.py) is :func:`counter_api_key`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cardservice.cards.models import Card
from cardservice.cards.service import CardPolicy, card_token
from cardservice.db.engine import Database
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.profiles.schema import Profile
from cardservice.registration.form import ApplicationForm, parse_application
from cardservice.security import passwords
from cardservice.security.apikeys import create_api_key
from cardservice.services import Services
from tests.registration_flow import EMAIL, FORMS
from tests.web_support import Client

PATRON_PASSWORD = "Shiori-2024!"


async def counter_api_key(services: Services) -> str:
    """A new API key for the counter, as ``X-API-Key`` takes it."""
    async with services.db.transaction() as session:
        _, plain = await create_api_key(session, "counter")
    return plain


async def verify(client: Client, key: str, **body: str) -> dict[str, Any]:
    """The counter API's verdict on ``barcode=`` or ``token=`` (it must answer 200)."""
    response = await client.post("/api/v1/verify", json=body, headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def card_token_of(services: Services, card: Card) -> str:
    """The card's token, signed as the card page signs it."""
    settings = services.settings
    return card_token(
        card,
        services.keyring,
        services.policy,
        issuer=settings.issuer,
        audience=settings.token_audience,
    )


def patron_from_form(
    form: ApplicationForm, *, email: str, password_hash: str | None = None
) -> NewPatron:
    """The patron of a parsed application form (``registration.form.parse_application``):
    its names, birth date, phone and address, with ``email`` and ``password_hash``."""
    return NewPatron(
        family_name=form.family_name,
        given_name=form.given_name,
        family_kana=form.family_kana,
        given_kana=form.given_kana,
        birth_date=form.birth_date,
        email=email,
        phone=form.phone,
        postal_code=form.postal_code,
        prefecture=form.prefecture,
        city=form.city,
        street=form.street,
        building=form.building,
        password_hash=password_hash,
    )


async def seed_patron(
    database_url: str, profile: Profile, form: Mapping[str, str], *, email: str, password: str
) -> str:
    """A patron of the application ``form`` (raw fields, checked as the form checks them)
    with ``password`` and a card, in the database of a test server; the user number."""
    parsed = parse_application(form, profile=profile, email=email)
    hashed = await passwords.hash_password(password)
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            card = await create_patron_with_card(
                session,
                patron_from_form(parsed, email=email, password_hash=hashed),
                CardPolicy.of(profile),
            )
            return card.user_number
    finally:
        await db.dispose()


async def sample_patron(services: Services, *, email: str = EMAIL) -> Card:
    """A patron at the profile's sample address (``registration_flow.FORMS``) with the
    password ``PATRON_PASSWORD`` and a card issued today."""
    profile = services.settings.profile
    form = parse_application(FORMS[profile.id], profile=profile, email=email)
    hashed = await passwords.hash_password(PATRON_PASSWORD)
    async with services.db.transaction() as session:
        return await create_patron_with_card(
            session, patron_from_form(form, email=email, password_hash=hashed), services.policy
        )
