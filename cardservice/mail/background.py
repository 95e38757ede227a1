"""Mail work for the life of the app: the relay, and in dev the catcher it sends to.

The app's lifespan (and ``cardservice serve``) enter ``mail_background`` once per process.
Several worker processes may each run a relay: claims never overlap (see ``relay.py``).

In dev without an SMTP server, each process runs a catcher of its own and its relay sends
to that catcher's actual port, never to a port assumed from the settings: the port wanted
(CARDSERVICE_MAIL_CATCHER_PORT, 0 by default) may be taken by another instance on the same
machine, or by a sibling worker, and then this process's catcher listens on a free port
instead (``MailCatcher``). Every catcher stores into this instance's database, so the staff
mail pages show all of it. A catcher that cannot listen at all stops the start with
``CatcherUnavailable``: mail is never handed to whatever else listens there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import msgspec

from cardservice.db.engine import Database
from cardservice.mail.catcher import MailCatcher, uses_catcher
from cardservice.mail.relay import MailRelay
from cardservice.settings import Settings


@asynccontextmanager
async def mail_background(db: Database, settings: Settings) -> AsyncIterator[MailRelay]:
    """Run the relay (and in dev the catcher) until the block ends; yields the relay.

    Raises ``CatcherUnavailable`` (a ``ConfigurationError``) if the dev catcher cannot listen.
    """
    async with AsyncExitStack() as stack:
        if uses_catcher(settings):
            catcher = await stack.enter_async_context(MailCatcher.from_settings(db, settings))
            # The relay sends to the port this process's catcher has, whatever was wanted.
            settings = msgspec.structs.replace(settings, mail_catcher_port=catcher.port)
        relay = MailRelay.from_settings(db, settings)
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run_forever(stop), name="mail-relay")
        try:
            yield relay
        finally:
            stop.set()
            await task  # finishes the message in hand: it is marked sent or retried, not lost
