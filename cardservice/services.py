"""The service's parts, built once from settings and shared by the web app and the CLI.

Nothing here imports litestar: the CLI, background jobs and tests use the same container.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import cardservice.db.models  # noqa: F401  # every table on the metadata, whoever runs first
from cardservice.cards.barcodes import BarcodeRenderer
from cardservice.cards.keys import Keyring, follow_rotations
from cardservice.cards.service import CardPolicy
from cardservice.cards.tokens import CardTokenVerifier
from cardservice.cards.verification import LastUseRecorder, Verifier
from cardservice.db.engine import Database
from cardservice.db.fastread import FastReader, open_reader
from cardservice.db.files import private_directory
from cardservice.passkit.wallet import AppleWallet
from cardservice.security.apikeys import ApiKeyChecker
from cardservice.settings import Settings
from passes.google_sync import GoogleWalletSync, wallet_sync_of


@dataclass
class Services:
    settings: Settings
    db: Database
    reader: FastReader
    keyring: Keyring
    policy: CardPolicy
    tokens: CardTokenVerifier
    verifier: Verifier
    api_keys: ApiKeyChecker
    barcodes: BarcodeRenderer
    google_wallet: GoogleWalletSync | None = None
    apple_wallet: AppleWallet | None = None

    @classmethod
    def build(cls, settings: Settings) -> Services:
        private_directory(settings.data_dir)
        db = Database(
            settings.async_database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
        )
        reader = open_reader(settings.async_database_url, wait_timeout=settings.db_pool_timeout)
        keyring = load_keyring(settings)
        policy = CardPolicy.of(settings.profile)
        tokens = CardTokenVerifier(
            keyring, issuer=settings.issuer, audience=settings.token_audience
        )
        return cls(
            settings=settings,
            db=db,
            reader=reader,
            keyring=keyring,
            policy=policy,
            tokens=tokens,
            verifier=Verifier(reader, policy, tokens, last_use=LastUseRecorder(db)),
            api_keys=ApiKeyChecker(reader, recheck_seconds=settings.api_key_recheck_seconds),
            barcodes=BarcodeRenderer(),
            google_wallet=wallet_sync_of(settings),
            apple_wallet=AppleWallet.of(settings),
        )

    @asynccontextmanager
    async def background(self) -> AsyncIterator[None]:
        """What a serving process runs beside requests: following key rotations
        (``cards.keys.follow_rotations``, within ``ROTATION_BOUND``)."""
        stop = asyncio.Event()
        task = asyncio.create_task(follow_rotations(self.keyring, stop), name="key-rotations")
        try:
            yield
        finally:
            stop.set()
            await task

    async def close(self) -> None:
        if self.verifier.last_use is not None:
            await self.verifier.last_use.drain()  # the last uses noted before shutdown
        await self.reader.close()
        if self.google_wallet is not None:
            await self.google_wallet.objects.aclose()
        if self.apple_wallet is not None and self.apple_wallet.pusher is not None:
            await self.apple_wallet.pusher.aclose()
        await self.db.dispose()


def load_keyring(settings: Settings) -> Keyring:
    """Configured key files if given, else the keyring generated into the data directory."""
    if settings.signing_key_files:
        return Keyring.from_files(list(settings.signing_key_files))
    return Keyring.load_or_create(settings.data_dir / "keys", now=datetime.now(UTC))
