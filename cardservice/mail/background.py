"""Mail work for the life of the app: the relay, and in dev the catcher it sends to.

The app's lifespan (and ``cardservice serve``) enter ``mail_background`` once per process.
Several worker processes may each run a relay: claims never overlap (see ``relay.py``).
Only one can own the catcher's port; the others log that and send to it all the same.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cardservice.db.engine import Database
from cardservice.mail.catcher import MailCatcher, uses_catcher
from cardservice.mail.relay import MailRelay
from cardservice.settings import Settings

log = logging.getLogger(__name__)


@asynccontextmanager
async def mail_background(db: Database, settings: Settings) -> AsyncIterator[MailRelay]:
    catcher = await _start_catcher(db, settings) if uses_catcher(settings) else None
    relay = MailRelay.from_settings(db, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run_forever(stop), name="mail-relay")
    try:
        yield relay
    finally:
        stop.set()
        await task  # finishes the message in hand: it is marked sent or retried, not lost
        if catcher is not None:
            await catcher.stop()


async def _start_catcher(db: Database, settings: Settings) -> MailCatcher | None:
    catcher = MailCatcher.from_settings(db, settings)
    try:
        await catcher.start()
    except OSError:
        log.warning(
            "mail catcher port %s is taken (another worker's catcher?); not starting one",
            settings.mail_catcher_port,
        )
        return None
    return catcher
