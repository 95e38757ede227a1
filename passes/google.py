"""Google Wallet: the "Save to Google Wallet" link of a library card, and its updates.

The link is ``https://pay.google.com/gp/v/save/<JWT>``: a JWT signed RS256 with the
library's Google Cloud service-account key, ``iss`` the account's email, ``aud`` "google",
``typ`` "savetowallet", ``iat``, ``origins`` the service's own address, and a ``payload``
holding the library's pass class (``genericClasses``) and the card's pass object
(``genericObjects``) with a CODABAR (or CODE_128) barcode (Google Wallet API reference, "JWT"
and "genericobject"; a generic pass, because a loyalty class needs a hosted logo image).

The JWT also carries ``exp``, :data:`SAVE_LINK_LIFETIME` after ``iat``. Google's reference
lists the claims above and does not name ``exp``: it is RFC 7519's registered expiry claim,
which a consumer that processes it must refuse after that time (section 4.1.4) and one that
does not understand it must ignore (section 4); Google's documentation does not say which
Google does, so the claim shortens the link's life or changes nothing, and breaks nothing.
It is there because the link is a bearer credential that would otherwise work for ever:
anyone holding an old link (a browser history, a forwarded message, a screenshot of the
address) could save the card's pass as it was then, ACTIVE, after the number was revoked or
reissued, and a pass object created that late is never set EXPIRED (the revocation's patch
found no object to change, :mod:`passes.google_sync`). A short life costs the patron
nothing: the card page and My Library sign a fresh link on every view
(``cardservice.patrons.wallet_links``), and the button is tapped within minutes.

Google creates the object when the patron saves it. Later changes go through Google's REST
API (:class:`WalletObjects`): :mod:`passes.google_sync` patches the object on a renewal and
sets it EXPIRED on a reissue, from the card events. Keys are read once and stay in memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from cardservice.errors import ConfigurationError
from cardservice.profiles.schema import ColoursSection, LocalText

SAVE_URL: Final = "https://pay.google.com/gp/v/save/"
# How long a save link works (its JWT's exp after iat): long enough for a page left open
# a while before the button is tapped, short enough that an old link cannot be replayed.
SAVE_LINK_LIFETIME: Final = timedelta(hours=1)
TOKEN_URI: Final = "https://oauth2.googleapis.com/token"  # noqa: S105  # a URL, not a secret
# Google's barcode types (Wallet API reference, "BarcodeType") for the profile's symbologies.
BARCODE_TYPES: Final = {"codabar": "CODABAR", "code128": "CODE_128"}
# Object and class ids are "<issuer id>.<suffix>"; the suffix may hold letters, digits, ".",
# "_" and "-" (Wallet API reference, "genericobject": id).
_SUFFIX_CHARACTERS: Final = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
)


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """A Google Cloud service account: what its JSON key file says that we use."""

    email: str
    key_id: str
    private_key: RSAPrivateKey
    token_uri: str = TOKEN_URI

    @classmethod
    def from_json(cls, raw: bytes, *, source: str = "the service-account key") -> ServiceAccount:
        """Read Google's JSON key file (``type`` "service_account", ``client_email``,
        ``private_key_id``, ``private_key`` as PKCS#8 PEM, ``token_uri``).

        Raises :class:`ConfigurationError` naming ``source`` when it is not such a file."""
        try:
            data = json.loads(raw)
            key = load_pem_private_key(data["private_key"].encode(), password=None)
            email, key_id = str(data["client_email"]), str(data["private_key_id"])
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ConfigurationError(
                source, f"is not a Google service-account JSON key ({type(exc).__name__})"
            ) from None
        if data.get("type") != "service_account" or not isinstance(key, RSAPrivateKey):
            raise ConfigurationError(source, "is not a service-account key with an RSA key")
        return cls(
            email=email,
            key_id=key_id,
            private_key=key,
            token_uri=str(data.get("token_uri") or TOKEN_URI),
        )

    @classmethod
    def from_file(cls, path: Path, *, setting: str) -> ServiceAccount:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigurationError(setting, f"cannot read {path}: {exc.strerror}") from None
        return cls.from_json(raw, source=setting)


@dataclass(frozen=True, slots=True)
class GoogleWallet:
    """What the library's passes need: its issuer id (from the Google Pay & Wallet Console),
    its service account, the page origins allowed to show the save link, and its looks."""

    issuer_id: str
    account: ServiceAccount
    origins: tuple[str, ...]
    profile_id: str
    library_name: LocalText
    colours: ColoursSection
    symbology: str

    @property
    def class_id(self) -> str:
        """One pass class per library: ``<issuer id>.<profile id>-card``."""
        return f"{self.issuer_id}.{_suffix(self.profile_id)}-card"

    def object_id(self, user_number: str) -> str:
        """One pass object per card number: a reissue's new number is a new object."""
        return f"{self.issuer_id}.{_suffix(self.profile_id)}-{_suffix(user_number)}"


@dataclass(frozen=True, slots=True)
class CardPass:
    """What a card's pass shows: the number, the barcode's content (the text the counter
    scanner reads, start/stop characters included), the holder, the expiry, and whether
    the card still holds (False: the pass shows as expired)."""

    user_number: str
    barcode_value: str
    holder_name: str
    expires_on: date
    active: bool = True


def _suffix(text: str) -> str:
    return "".join(c if c in _SUFFIX_CHARACTERS else "_" for c in text)


def _localized(text: LocalText) -> dict[str, Any]:
    return {
        "defaultValue": {"language": "ja", "value": text.ja},
        "translatedValues": [{"language": "en", "value": text.en}],
    }


def _plain(value: str) -> dict[str, Any]:
    return {"defaultValue": {"language": "ja", "value": value}}


def pass_class(wallet: GoogleWallet) -> dict[str, Any]:
    """The library's ``GenericClass``: only its id is required."""
    return {"id": wallet.class_id}


def _expiry_end(expires_on: date) -> str:
    # The card holds through its expiry date, Japan time (UTC+9, no summer time).
    return f"{expires_on.isoformat()}T23:59:59+09:00"


def pass_object(wallet: GoogleWallet, card: CardPass) -> dict[str, Any]:
    """The card's ``GenericObject``: ``cardTitle`` the library, ``header`` the holder,
    the barcode with the number below it, the expiry as the valid interval's end and as
    a text module, the library's background colour, and ``state`` ACTIVE or EXPIRED."""
    return {
        "id": wallet.object_id(card.user_number),
        "classId": wallet.class_id,
        "genericType": "GENERIC_TYPE_UNSPECIFIED",
        "state": "ACTIVE" if card.active else "EXPIRED",
        "cardTitle": _localized(wallet.library_name),
        "header": _plain(card.holder_name),
        "subheader": _localized(LocalText(ja="図書館利用カード", en="Library card")),
        "hexBackgroundColor": wallet.colours.background,
        "barcode": {
            "type": BARCODE_TYPES[wallet.symbology],
            "value": card.barcode_value,
            "alternateText": card.user_number,
        },
        "validTimeInterval": {"end": {"date": _expiry_end(card.expires_on)}},
        "textModulesData": [_expiry_module(card.expires_on)],
    }


def _expiry_module(expires_on: date) -> dict[str, Any]:
    return {
        "id": "expiry",
        "header": "有効期限",
        "body": f"{expires_on.year}年{expires_on.month}月{expires_on.day}日",
        "localizedHeader": _localized(LocalText(ja="有効期限", en="Valid until")),
        "localizedBody": _localized(
            LocalText(
                ja=f"{expires_on.year}年{expires_on.month}月{expires_on.day}日",
                en=expires_on.strftime("%d %B %Y").lstrip("0"),
            )
        ),
    }


def renewal_patch(wallet: GoogleWallet, expires_on: date) -> dict[str, Any]:
    """The fields a renewal changes, for ``PATCH genericObject/{id}``."""
    del wallet
    return {
        "state": "ACTIVE",
        "validTimeInterval": {"end": {"date": _expiry_end(expires_on)}},
        "textModulesData": [_expiry_module(expires_on)],
    }


EXPIRED_PATCH: Final[dict[str, Any]] = {"state": "EXPIRED"}


def save_claims(wallet: GoogleWallet, card: CardPass, *, now: datetime) -> dict[str, Any]:
    """The claims of the save JWT (Wallet API reference, "JWT"), with ``exp``
    :data:`SAVE_LINK_LIFETIME` after ``iat`` (see the module's docstring)."""
    issued = int(now.timestamp())
    return {
        "iss": wallet.account.email,
        "aud": "google",
        "typ": "savetowallet",
        "iat": issued,
        "exp": issued + int(SAVE_LINK_LIFETIME.total_seconds()),
        "origins": list(wallet.origins),
        "payload": {
            "genericClasses": [pass_class(wallet)],
            "genericObjects": [pass_object(wallet, card)],
        },
    }


def save_url(wallet: GoogleWallet, card: CardPass, *, now: datetime | None = None) -> str:
    """``https://pay.google.com/gp/v/save/<JWT>``, the JWT signed RS256 with the service
    account's key (``kid`` its key id)."""
    claims = save_claims(wallet, card, now=now or datetime.now(UTC))
    token = jwt.encode(
        claims,
        wallet.account.private_key,
        algorithm="RS256",
        headers={"kid": wallet.account.key_id},
    )
    return SAVE_URL + token


def from_settings(
    *,
    issuer_id: str,
    key_file: Path | None,
    base_url: str,
    profile_id: str,
    library_name: LocalText,
    colours: ColoursSection,
    symbology: str,
) -> GoogleWallet | None:
    """The configured wallet, or None when ``issuer_id`` is empty (the links are then not
    offered). Raises :class:`ConfigurationError` for a key file that cannot be used."""
    if not issuer_id or key_file is None:
        return None
    account = ServiceAccount.from_file(key_file, setting="CARDSERVICE_GOOGLE_WALLET_KEY_FILE")
    return GoogleWallet(
        issuer_id=issuer_id,
        account=account,
        origins=(base_url.rstrip("/"),),
        profile_id=profile_id,
        library_name=library_name,
        colours=colours,
        symbology=symbology,
    )
