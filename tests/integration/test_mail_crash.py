"""A serving process killed mid-batch: after the restart every pending email arrives within a
minute, on both engines, with one process and with two.

``cardservice serve`` runs as an operator runs it, sending to a slow SMTP server in this test
(aiosmtpd, a fraction of a second per message). It is killed with SIGKILL while the server
is taking one of the 30 queued messages, then started again. Only the message in hand waits
for its lease (the SMTP timeout, 5 s here, plus a margin); the rest go out at once. Delivery
is at least once: the message in hand at the kill arrives twice, with one Message-ID.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from cardservice.mail import MailStatus, OutboxRow
from cardservice.services import Services
from tests.cli_support import COMMAND, cli_env
from tests.unit.mail.support import SmtpSink, free_port, queue, verify_mail

QUEUED = 30
KILL_AT = 10  # the SIGKILL comes while the server is taking this message
SMTP_TIMEOUT = 5  # seconds; the lease of a message in hand is this plus LEASE_MARGIN
WITHIN = 60.0  # seconds after the restart by which every pending email has arrived


class SlowSink(SmtpSink):
    """An SMTP server that takes ``delay`` seconds over each message before its "250"."""

    def __init__(self, port: int, *, delay: float) -> None:
        super().__init__(port)
        self.delay = delay
        self.begun = 0
        self.mid_batch = threading.Event()
        self._count_lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802  # aiosmtpd's hook name
        with self._count_lock:
            self.begun += 1
            if self.begun == KILL_AT:
                self.mid_batch.set()
        # Stored first, then slow to answer: a sender killed meanwhile never hears the
        # "250", so the message in hand at the kill has arrived but is not marked sent.
        answer = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.delay)
        return answer

    def copies(self) -> dict[str, list[str]]:
        """Recipient -> the Message-IDs of every copy that arrived."""
        found: dict[str, list[str]] = defaultdict(list)
        for message in self.messages():
            found[str(message["To"])].append(str(message["Message-ID"]))
        return found


def start_server(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``cardservice serve`` in a process group of its own, so a kill takes its workers too."""
    with log.open("ab") as out:
        return subprocess.Popen(  # our own console script, fixed arguments
            [str(COMMAND), "serve"],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


async def statuses(services: Services) -> dict[str, str]:
    async with services.db.transaction() as session:
        rows = await session.execute(select(OutboxRow.to_address, OutboxRow.status))
        return {row.to_address: row.status for row in rows}


@pytest.mark.parametrize("workers", [1, 2])
async def test_pending_mail_goes_out_within_a_minute_of_a_restart_after_sigkill(
    services: Services, data_dir: Path, tmp_path: Path, workers: int
) -> None:
    addresses = [f"patron{i:02d}@example.org" for i in range(QUEUED)]
    await queue(services, *(verify_mail(address) for address in addresses))
    sink = SlowSink(free_port(), delay=0.3)
    sink.start()
    env = {
        **cli_env(services.settings, data_dir),
        "CARDSERVICE_SMTP_URL": f"smtp://127.0.0.1:{sink.port}?starttls=0&timeout={SMTP_TIMEOUT}",
        "CARDSERVICE_PORT": str(free_port()),
        "CARDSERVICE_WORKERS": str(workers),
    }
    log = tmp_path / "serve.log"
    try:
        server = start_server(env, log)
        try:
            reached = await asyncio.to_thread(sink.mid_batch.wait, 120)
            assert reached, log.read_text()
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        finally:
            stop_server(server)

        before = await statuses(services)
        pending = sorted(a for a, status in before.items() if status == MailStatus.PENDING)
        # Mid-batch indeed: the most part of the queue was still waiting when it died.
        assert len(pending) >= QUEUED - KILL_AT - workers, before

        restarted = time.monotonic()
        server = start_server(env, log)
        try:
            while time.monotonic() - restarted < WITHIN:
                after = await statuses(services)
                if set(sink.copies()) == set(addresses) and all(
                    status == MailStatus.SENT for status in after.values()
                ):
                    break
                await asyncio.sleep(0.5)
            waited = time.monotonic() - restarted
        finally:
            stop_server(server)
    finally:
        sink.stop()

    copies = sink.copies()
    missing = sorted(set(addresses) - set(copies))
    assert not missing, f"not delivered {waited:.0f} s after the restart: {missing}"
    assert waited < WITHIN
    assert set((await statuses(services)).values()) == {MailStatus.SENT}
    # At least once: the message in hand at the kill (one per worker) arrived before the
    # kill and again after its lease, as the same message, with the same Message-ID.
    repeated = {address: ids for address, ids in copies.items() if len(ids) > 1}
    assert 1 <= len(repeated) <= workers, repeated
    assert all(len(ids) == 2 and len(set(ids)) == 1 for ids in repeated.values()), repeated
