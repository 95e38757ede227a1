"""What a card's Apple Wallet pass says: its state, its barcodes and its texts, decided
here from the card and the profile, and laid out by ``passes.apple``.

The barcodes follow the card page (``patrons/card_view.py``): the user number as the
profile's symbology (NW-7 with its start/stop characters first, then Code 128 with the bare
number for iOS before 27), and the QR code with the signed card token while a token can be
signed (an active or suspended card that has not expired). A revoked card's pass is void
and shows no barcode; a suspended card's says so in its status.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from cardservice.calendar import end_of_day, local_today
from cardservice.cards.barcodes import Symbology
from cardservice.cards.models import Card, RevocationReason
from cardservice.cards.numbers import barcode_value
from cardservice.cards.service import CardPolicy, card_token
from cardservice.passkit.models import ApplePass
from cardservice.passkit.service import authentication_token
from cardservice.passkit.wallet import AppleWallet
from cardservice.patrons.card_view import CardIssuer, CardState, card_state
from passes.apple import CODABAR, CODE128, QR, AppleCard, PassBarcode, PassState


def pass_barcodes(
    card: Card,
    state: CardState,
    *,
    symbology: str,
    policy: CardPolicy,
    issuer: CardIssuer,
    now: datetime,
) -> list[PassBarcode]:
    """The pass's barcodes in order of preference (see the module's docstring)."""
    if state is CardState.REVOKED:
        return []
    number = card.user_number
    codes: list[PassBarcode] = []
    if Symbology(symbology) is Symbology.CODABAR:
        codes.append(
            PassBarcode(
                CODABAR, barcode_value(Symbology.CODABAR, policy.number_format, number), number
            )
        )
    codes.append(PassBarcode(CODE128, number, number))
    today = local_today(policy.timezone, now)
    if state in (CardState.ACTIVE, CardState.SUSPENDED) and card.expires_on >= today:
        token = card_token(
            card,
            issuer.keyring,
            policy,
            issuer=issuer.issuer,
            audience=issuer.audience,
            now=now,
        )
        codes.append(PassBarcode(QR, token))
    return codes


def apple_card(
    card: Card,
    apple_pass: ApplePass,
    *,
    wallet: AppleWallet,
    auth_key: bytes,
    organization: str,
    strings: Mapping[str, Mapping[str, str]],
    symbology: str,
    policy: CardPolicy,
    issuer: CardIssuer,
    now: datetime | None = None,
) -> AppleCard:
    """The pass of ``card`` as it stands at ``now``; ``organization`` is the library's
    name in the patron's language, ``strings`` the pass's texts per language."""
    now = now or datetime.now(UTC)
    state = card_state(card, local_today(policy.timezone, now))
    pass_state: PassState = state.value  # the same four words
    return AppleCard(
        pass_type_id=wallet.pass_type_id,
        team_id=wallet.team_id,
        serial=apple_pass.serial,
        organization=organization,
        user_number=card.user_number,
        expires_on=card.expires_on,
        expires_at=end_of_day(card.expires_on, policy.timezone),
        state=pass_state,
        barcodes=pass_barcodes(
            card, state, symbology=symbology, policy=policy, issuer=issuer, now=now
        ),
        strings=strings,
        authentication_token=authentication_token(auth_key, apple_pass.serial),
        web_service_url=wallet.web_service_url,
        card_page_url=wallet.card_page_url,
        replaced=card.status_reason == RevocationReason.REISSUED,
    )
