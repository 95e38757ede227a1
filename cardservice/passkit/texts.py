"""The words on an Apple Wallet pass, per language, from the page catalogs: Wallet shows
each device the ``pass.strings`` of its language (``passes.apple.STRING_KEYS``)."""

from __future__ import annotations

from typing import Final

from cardservice.i18n import LANGUAGES, N_, gettext
from cardservice.profiles.schema import Profile

# "%@" is where Wallet puts the field's new value in its change notification.
TEXTS: Final = {
    "description": N_("Library card"),
    "label.number": N_("User number"),
    "label.expires": N_("Valid until"),
    "label.status": N_("Status"),
    "label.usage": N_("How to use"),
    "label.card_page": N_("Your card page"),
    "status.active": N_("Valid"),
    "status.expired": N_("Expired"),
    "status.suspended": N_("Suspended"),
    "status.revoked": N_("No longer valid"),
    "change.status": N_("Card status: %@"),
    "change.expires": N_("Your card is now valid until %@."),
    "back.usage": N_(
        "Show the barcode at the counter or at a self-checkout machine. If the scanner "
        "cannot read it, turn the screen brightness up."
    ),
    "back.replaced": N_(
        "This card is no longer valid. Your card page shows your current card, which you "
        "can add to Wallet from there."
    ),
    "back.revoked": N_(
        "This card is no longer valid. If you have any questions, please ask the library."
    ),
}


# The download's refusals (``routes.py``: the errors' docstrings), for the page catalogs.
ERRORS: Final = (
    N_("Apple Wallet passes are not offered by this library."),
    N_("You have no card to add to Wallet yet."),
    N_("This card is no longer valid, so it cannot be added to Wallet."),
    N_("This card has expired, so it cannot be added to Wallet."),
    N_("This card is suspended, so it cannot be added to Wallet."),
)


def pass_strings(profile: Profile) -> dict[str, dict[str, str]]:
    """``{"ja": {key: text}, "en": {...}}`` with the library's name as ``library``."""
    return {
        lang: {
            **{key: gettext(lang, text) for key, text in TEXTS.items()},
            "library": profile.library.name.get(lang),
        }
        for lang in LANGUAGES
    }
