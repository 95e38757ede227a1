"""Benchmark of identity-document uploads: memory and time with many applicants at once.

Starts the service as production would (``cardservice serve``: uvicorn, one worker, SQLite
in a temporary directory unless ``--database-url``), opens a draft for each applicant over
HTTP (email link read from the outbox, notes, form), then has all of them upload a phone
photo (4032 x 3024 JPEG, about 3 MB) at the same moment, ``--rounds`` times. It samples the
resident memory of the server's whole process tree (the server, and the image pool's fork
server and workers) every 10 ms, and prints, in the same run: the idle RSS before any
upload, the peak during each round and the RSS after it, against the target (peak < 400 MB);
and the time per upload, alone and with everyone at once.

    make bench-uploads          # or: .venv/bin/python tests/bench/uploads.py --help
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from common import LINK, VERSION, application_form, csrf_token, free_port, server_env, serving
from PIL import Image, ImageDraw
from sqlalchemy import select

from cardservice.db.migrate import upgrade
from cardservice.mail.models import OutboxRow
from cardservice.services import Services
from cardservice.settings import Settings

TARGET_MB = 400
PHOTO_BYTES = 2_950_000  # "about 3 MB", under the 3 MB limit of Yokohama and the example
FORM = application_form("Hon-yomu7-bench")


def phone_photo(limit: int = PHOTO_BYTES) -> bytes:
    """A 4032 x 3024 photo of a card on a desk, at the best JPEG quality within ``limit``."""
    size = (4032, 3024)
    desk = Image.linear_gradient("L").resize(size).convert("RGB")
    grain = Image.effect_noise((2016, 1512), 40).resize(size).convert("RGB")
    image = Image.blend(desk, grain, 0.35)
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((800, 600, 3200, 2400), radius=60, fill=(236, 236, 226))
    for y in range(700, 2300, 40):
        draw.text((860, y), "LIBRARY CARD APPLICATION 0123456789 " * 4, fill=(30, 30, 30))
    best = b""
    for quality in range(70, 98):
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        if buffer.tell() > limit:
            break
        best = buffer.getvalue()
    return best


# --- memory of the server's process tree ------------------------------------------------


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(root: int) -> tuple[int, int, int]:
    """RSS in bytes of the whole tree, of the server process alone, and the process count."""
    pids = _tree(root)
    return sum(_rss(pid) for pid in pids), _rss(root), len(pids)


@dataclass
class Sampler:
    """Samples the tree's RSS every 10 ms in a thread; ``peak`` is the highest seen."""

    root: int
    peak: int = 0
    peak_server: int = 0
    processes: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            total, server, count = tree_rss(self.root)
            self.peak = max(self.peak, total)
            self.peak_server = max(self.peak_server, server)
            self.processes = max(self.processes, count)


# --- applicants over HTTP ----------------------------------------------------------------


async def _latest_link(settings: Settings, email: str) -> str:
    svc = Services.build(settings)
    try:
        for _ in range(100):
            async with svc.db.transaction() as session:
                rows = list(
                    await session.scalars(
                        select(OutboxRow)
                        .where(OutboxRow.to_address == email)
                        .order_by(OutboxRow.id.desc())
                    )
                )
            for row in rows:
                if row.body_text and (found := LINK.search(row.body_text)):
                    return found.group(1)
            await asyncio.sleep(0.1)
    finally:
        await svc.close()
    raise SystemExit(f"no verification link for {email} in the outbox")


async def _expect(response: httpx.Response, status: int, what: str) -> httpx.Response:
    if response.status_code != status:
        raise SystemExit(f"{what}: {response.status_code}\n{response.text[:2000]}")
    return response


async def open_draft(client: httpx.AsyncClient, settings: Settings, email: str) -> None:
    """Email, link, notes and form, as a browser does: the client's session holds a draft."""
    page = await client.get("/apply")
    await _expect(
        await client.post("/apply", data={"email": email, "_csrf_token": csrf_token(page.text)}),
        303,
        "ask for a link",
    )
    token = await _latest_link(settings, email)
    page = await client.get(f"/apply/verify/{token}")
    await _expect(
        await client.post(f"/apply/verify/{token}", data={"_csrf_token": csrf_token(page.text)}),
        303,
        "follow the link",
    )
    notes = await client.get("/apply/notes")
    version = VERSION.search(notes.text)
    if version is None:
        raise SystemExit("the notes page names no version")
    agreed = {"version": version.group(1), "agree": "on", "_csrf_token": csrf_token(notes.text)}
    await _expect(await client.post("/apply/notes", data=agreed), 303, "agree to the notes")
    form = await client.get("/apply/form")
    filled = {**FORM, "_csrf_token": csrf_token(form.text)}
    await _expect(await client.post("/apply/form", data=filled), 303, "save the form")


async def upload(client: httpx.AsyncClient, photo: bytes) -> float:
    """One upload of ``photo`` as the health insurance card's front; seconds it took."""
    token = csrf_token((await client.get("/apply/documents")).text)
    started = time.perf_counter()
    response = await client.post(
        "/apply/documents",
        data={"doc_type": "health_insurance", "side": "front", "_csrf_token": token},
        files={"file": ("IMG_0001.jpg", photo, "image/jpeg")},
    )
    elapsed = time.perf_counter() - started
    await _expect(response, 303, "upload")
    return elapsed


@dataclass
class Round:
    peak: int
    peak_server: int
    after: int
    after_server: int
    processes: int
    seconds: list[float]
    wall: float


async def run(args: argparse.Namespace, settings: Settings, base: str, server: int) -> None:
    photo = phone_photo()
    clients = [
        httpx.AsyncClient(base_url=base, timeout=300, follow_redirects=False)
        for _ in range(args.applicants)
    ]
    try:
        for i, client in enumerate(clients):
            await open_draft(client, settings, f"bench{i}@example.org")
        await asyncio.sleep(1)
        idle, idle_server, idle_count = tree_rss(server)
        alone = [await upload(clients[0], photo) for _ in range(3)]
        rounds = []
        for _ in range(args.rounds):
            with Sampler(server) as sampler:
                started = time.perf_counter()
                seconds = await asyncio.gather(*[upload(c, photo) for c in clients])
                wall = time.perf_counter() - started
            await asyncio.sleep(1)
            after, after_server, _ = tree_rss(server)
            rounds.append(
                Round(
                    peak=sampler.peak,
                    peak_server=sampler.peak_server,
                    after=after,
                    after_server=after_server,
                    processes=sampler.processes,
                    seconds=seconds,
                    wall=wall,
                )
            )
    finally:
        for client in clients:
            await client.aclose()
    _report(
        args,
        settings,
        photo=photo,
        idle=(idle, idle_server, idle_count),
        alone=alone,
        rounds=rounds,
    )


def _mb(size: int) -> str:
    return f"{size / 1_048_576:.0f} MB"


def _report(
    args: argparse.Namespace,
    settings: Settings,
    *,
    photo: bytes,
    idle: tuple[int, int, int],
    alone: list[float],
    rounds: list[Round],
) -> None:
    engine = "SQLite" if settings.is_sqlite else "PostgreSQL"
    print(
        f"\nuvicorn, 1 worker, {engine}, {args.applicants} applicants at once, "
        f"photo 4032 x 3024 JPEG {len(photo) / 1_000_000:.2f} MB, {os.cpu_count()} cores\n"
    )
    print(f"idle RSS (server + image pool, {idle[2]} processes): {_mb(idle[0])}"
          f"  (server process {_mb(idle[1])})")  # fmt: skip
    print(f"one upload alone: {statistics.median(alone):.2f} s (median of {len(alone)})\n")
    # "server": the serving process alone; the rest of the tree is the image pool.
    print(f"{'round':<7}{'peak RSS':>10}{'server':>9}{'after':>9}{'server':>9}{'procs':>7}"
          f"{'peak/idle':>11}{'p50 s':>8}{'max s':>8}{'wall s':>8}")  # fmt: skip
    for i, r in enumerate(rounds, 1):
        print(
            f"{i:<7}{_mb(r.peak):>10}{_mb(r.peak_server):>9}{_mb(r.after):>9}"
            f"{_mb(r.after_server):>9}{r.processes:>7}"
            f"{r.peak / idle[0]:>11.2f}{statistics.median(r.seconds):>8.2f}"
            f"{max(r.seconds):>8.2f}{r.wall:>8.2f}"
        )
    worst = max(r.peak for r in rounds)
    verdict = "met" if worst < TARGET_MB * 1_048_576 else "NOT met"
    per_upload = statistics.mean(r.wall / len(r.seconds) for r in rounds)
    print(f"\npeak RSS {_mb(worst)} against idle {_mb(idle[0])}: target < {TARGET_MB} MB {verdict}")
    print(f"time per upload with {args.applicants} at once: {per_upload:.2f} s of wall time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applicants", type=int, default=10, help="uploads at once (<= 20)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", default="yokohama")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cardservice-bench-") as tmp:
        port = free_port()
        env = server_env(tmp, port, CARDSERVICE_PROFILE=args.profile)
        if args.database_url:
            env["CARDSERVICE_DATABASE_URL"] = args.database_url
        settings = Settings.from_env(env)
        asyncio.run(upgrade(settings.async_database_url))
        with serving(env, quiet=False) as server:
            asyncio.run(run(args, settings, f"http://127.0.0.1:{port}", server.pid))


if __name__ == "__main__":
    main()
