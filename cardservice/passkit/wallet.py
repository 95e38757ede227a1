"""The configured Apple Wallet: the signer (keys read once, kept in memory), the images,
the pass's URLs and the pusher, built from settings when the service starts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cardservice.errors import ConfigurationError
from cardservice.passkit.paths import WEB_SERVICE_PATH
from cardservice.passkit.push import ApnsPusher, PassPusher
from cardservice.patrons.paths import CARD_PATH, link
from cardservice.settings import PREFIX, Settings
from passes.apple import IMAGE_NAMES, default_images
from passes.apple_signing import PassSigner, SignerError

_PNG: Final = b"\x89PNG\r\n\x1a\n"
# The setting to fix for each part a SignerError names.
_SIGNER_SETTINGS: Final = {
    "certificate": "APPLE_PASS_CERTIFICATE",
    "key": "APPLE_PASS_KEY",
    "password": "APPLE_PASS_KEY_PASSWORD",
    "wwdr": "APPLE_WWDR_CERTIFICATE",
}


@dataclass(frozen=True, slots=True)
class AppleWallet:
    pass_type_id: str
    team_id: str
    signer: PassSigner
    images: Mapping[str, bytes]
    web_service_url: str
    card_page_url: str
    # None: APNs is not configured; passes change when Wallet asks, without a push.
    pusher: PassPusher | None = None

    @classmethod
    def of(cls, settings: Settings) -> AppleWallet | None:
        """The wallet, or None when Apple passes are not configured. Raises
        :class:`ConfigurationError` naming the setting when a file cannot be used."""
        if not settings.apple_passes_configured:
            return None
        assert settings.apple_pass_certificate is not None  # noqa: S101  # configured
        assert settings.apple_pass_key is not None  # noqa: S101
        assert settings.apple_wwdr_certificate is not None  # noqa: S101
        try:
            signer = PassSigner.from_files(
                settings.apple_pass_certificate,
                settings.apple_pass_key,
                settings.apple_wwdr_certificate,
                password=settings.apple_pass_key_password.encode() or None,
            )
        except SignerError as exc:
            raise ConfigurationError(PREFIX + _SIGNER_SETTINGS[exc.part], str(exc)) from None
        if signer.pass_type_id not in (None, settings.apple_pass_type_id):
            raise ConfigurationError(
                PREFIX + "APPLE_PASS_TYPE_ID",
                f"the pass certificate is for {signer.pass_type_id}, not this pass type id",
            )
        if signer.team_id not in (None, settings.apple_team_id):
            # Wallet refuses a pass whose teamIdentifier is not its certificate's team.
            raise ConfigurationError(
                PREFIX + "APPLE_TEAM_ID",
                f"the pass certificate is team {signer.team_id}'s, not this team id",
            )
        return cls(
            pass_type_id=settings.apple_pass_type_id,
            team_id=settings.apple_team_id,
            signer=signer,
            images=pass_images(settings.apple_pass_images),
            web_service_url=link(settings.base_url, WEB_SERVICE_PATH),
            card_page_url=link(settings.base_url, CARD_PATH),
            pusher=_pusher(settings),
        )


def pass_images(directory: Path | None) -> dict[str, bytes]:
    """The shipped icon and logo, each replaced by the file of the same name in
    ``directory`` if there is one (``icon.png``, ``icon@2x.png``, ``logo.png``, ...).
    Raises :class:`ConfigurationError` for a missing directory or a file that is not PNG."""
    images = default_images()
    if directory is None:
        return images
    if not directory.is_dir():
        raise ConfigurationError(PREFIX + "APPLE_PASS_IMAGES", f"{directory} is not a directory")
    for name in IMAGE_NAMES:
        path = directory / name
        if path.is_file():
            body = path.read_bytes()
            if not body.startswith(_PNG):
                raise ConfigurationError(PREFIX + "APPLE_PASS_IMAGES", f"{name} is not a PNG")
            images[name] = body
    return images


def _pusher(settings: Settings) -> PassPusher | None:
    if settings.apns_key_file is None:
        return None
    try:
        key = settings.apns_key_file.read_bytes()
        return ApnsPusher(
            key,
            key_id=settings.apns_key_id,
            team_id=settings.apple_team_id,
            host=settings.apns_host,
        )
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigurationError(
            PREFIX + "APNS_KEY_FILE", f"cannot use it as an APNs .p8 key: {exc}"
        ) from None
