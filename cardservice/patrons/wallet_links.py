"""Which wallet buttons the card page and My Library show, and where they lead.

A wallet pass is offered for a valid card only (an expired, suspended or revoked card
would put a pass in the wallet that the counter refuses), and only for the wallets the
library has configured: Apple's when its certificates are set (``Settings.
apple_passes_configured``, the pass downloaded from ``passkit.paths.APPLE_PASS_PATH``),
Google's when its issuer id and service-account key are (``passes/google.py``). With
neither, the pages say nothing of wallets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cardservice.cards.models import Card
from cardservice.cards.numbers import barcode_value
from cardservice.cards.service import CardPolicy
from cardservice.passkit.paths import APPLE_PASS_PATH
from cardservice.patrons.card_view import CardState
from passes.google import CardPass, GoogleWallet, save_url

if TYPE_CHECKING:
    from cardservice.services import Services


@dataclass(frozen=True, slots=True)
class WalletLinks:
    """The buttons' targets: a path on this service for Apple's pass, Google's save URL;
    None for a button not shown."""

    apple: str | None = None
    google: str | None = None


NO_WALLETS = WalletLinks()


def wallet_links(
    card: Card | None,
    state: CardState | None,
    *,
    holder_name: str,
    policy: CardPolicy,
    symbology: str,
    apple_path: str | None,
    google: GoogleWallet | None,
    now: datetime,
) -> WalletLinks:
    """The buttons for ``card`` in ``state``: ``apple_path`` is the pass's download path when
    Apple passes are configured (else None); ``google`` the configured Google Wallet (else
    None). Signing the Google link is one RSA signature (about a millisecond)."""
    if card is None or state is not CardState.ACTIVE:
        return NO_WALLETS
    google_url = None
    if google is not None:
        google_url = save_url(
            google,
            CardPass(
                user_number=card.user_number,
                barcode_value=barcode_value(symbology, policy.number_format, card.user_number),
                holder_name=holder_name,
                expires_on=card.expires_on,
            ),
            now=now,
        )
    return WalletLinks(apple=apple_path, google=google_url)


def offered_wallets(
    svc: Services, card: Card | None, state: CardState | None, *, holder_name: str, now: datetime
) -> WalletLinks:
    """:func:`wallet_links` with the service's configuration: the Apple pass when
    ``svc.apple_wallet`` is built (its certificates are set), Google's when
    ``svc.google_wallet`` is."""
    return wallet_links(
        card,
        state,
        holder_name=holder_name,
        policy=svc.policy,
        symbology=svc.settings.profile.barcode.symbology,
        apple_path=APPLE_PASS_PATH if svc.apple_wallet is not None else None,
        google=svc.google_wallet.wallet if svc.google_wallet is not None else None,
        now=now,
    )
