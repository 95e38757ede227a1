"""Benchmark of online registration with applicants at once, on SQLite.

Starts the service as production would (``cardservice serve``, SQLite in a temporary
directory) and sends applicants through the whole flow over HTTP, each from an address of
its own (127.0.0.x): the email, the link read from the outbox as the applicant reads it
from their mail, the notes, the form with a password, both sides of a health insurance
card (a small photo-like JPEG each), the review and the submission. In the same run: a lone
applicant several times, then rounds of ``--applicants`` at once.

Prints the p50 and p99 of the pages (every request but the uploads and the form's save,
which hashes the password with Argon2, shown apart), and of the whole flow alone and at
once, and the ratio. Targets: pages' p99 < 150 ms with 10 at once; the whole flow's p99 at
once < 2x the lone applicant's.

    make bench-applicants           # or: .venv/bin/python tests/bench/applicants.py --help
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass, field

import httpx
from common import (
    LINK,
    VERSION,
    application_form,
    cpu_seconds,
    csrf_token,
    free_port,
    server_env,
    serving,
)
from PIL import Image, ImageDraw, ImageFilter

from cardservice.db.migrate import upgrade
from cardservice.settings import Settings

PAGES_P99_TARGET_MS = 150.0
FLOW_RATIO_TARGET = 2.0
FORM = application_form("Hon-yomu7 reading", notify_expiry_near="on")


@dataclass
class Timings:
    """Milliseconds per request, by kind, and seconds per whole flow."""

    pages: list[float] = field(default_factory=list)
    form_saves: list[float] = field(default_factory=list)
    uploads: list[float] = field(default_factory=list)
    flows: list[float] = field(default_factory=list)
    # (milliseconds, method and path) of every page, for --slowest
    labelled: list[tuple[float, str]] = field(default_factory=list)


def id_photo(seed: int) -> bytes:
    """A phone photo of a card on a desk, 1280x800, JPEG quality 85: grain, a gradient,
    a card with lines of print (about 100-200 KB, as a phone's "small" size)."""
    rng = random.Random(seed)
    width, height = 1280, 800
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    image = Image.blend(image, Image.new("RGB", (width, height), (120, 100, 80)), 0.6)
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((180, 120, 1100, 690), radius=30, fill=(232, 236, 244))
    for row in range(9):
        y = 180 + row * 52
        draw.rectangle((240, y, 240 + rng.randint(250, 780), y + 18), fill=(40, 40, 60))
    draw.rectangle((860, 200, 1040, 420), fill=(150, 140, 130))
    noise = Image.effect_noise((width, height), 24).convert("RGB")
    image = Image.blend(image, noise, 0.12).filter(ImageFilter.GaussianBlur(0.6))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


class Applicant:
    """One person applying, timing each request and the whole flow."""

    def __init__(self, base: str, number: int, db_path: str, photo: bytes) -> None:
        # An address of its own: the link emails are limited per client address.
        transport = httpx.AsyncHTTPTransport(
            local_address=f"127.0.{number // 250}.{number % 250 + 2}"
        )
        self.client = httpx.AsyncClient(base_url=base, transport=transport, timeout=120)
        self.email = f"applicant{number}@example.org"
        self.db_path = db_path
        self.photo = photo

    async def _timed(
        self, t: Timings, kind: list[float], method: str, url: str, **kw: object
    ) -> httpx.Response:
        started = time.perf_counter()
        response = await self.client.request(method, url, **kw)  # type: ignore[arg-type]
        kind.append((time.perf_counter() - started) * 1000)
        if kind is t.pages:
            t.labelled.append((kind[-1], f"{method} {url.split('/verify/', maxsplit=1)[0]}"))
        if response.status_code >= 400:
            raise SystemExit(f"{method} {url}: {response.status_code}\n{response.text[:2000]}")
        return response

    async def _page(self, t: Timings, url: str) -> str:
        return (await self._timed(t, t.pages, "GET", url)).text

    async def _post(self, t: Timings, kind: list[float], url: str, **kw: object) -> str:
        """A form post answered 303, and the page it leads to (as a browser follows it)."""
        response = await self._timed(t, kind, "POST", url, **kw)
        if response.status_code != 303:
            raise SystemExit(f"POST {url}: {response.status_code}\n{response.text[:2000]}")
        return await self._page(t, response.headers["location"])

    def _link(self) -> str:
        """The token of the verification email, read from the outbox (committed before the
        answer to the email form, so it is there)."""
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30) as db:
            row = db.execute(
                "SELECT body_text FROM outbox WHERE to_address = ? AND template = 'verify_email'"
                " ORDER BY id DESC LIMIT 1",
                (self.email,),
            ).fetchone()
        found = LINK.search(row[0]) if row else None
        if found is None:
            raise SystemExit(f"no verification link for {self.email}")
        return found.group(1)

    async def apply(self, t: Timings) -> None:
        started = time.perf_counter()
        page = await self._page(t, "/apply")
        await self._post(t, t.pages, "/apply", data={"email": self.email, **_token(page)})
        token = self._link()
        page = await self._page(t, f"/apply/verify/{token}")
        page = await self._post(t, t.pages, f"/apply/verify/{token}", data=_token(page))
        version = VERSION.search(page)
        assert version is not None, page
        notes = {"version": version.group(1), "agree": "on", **_token(page)}
        page = await self._post(t, t.pages, "/apply/notes", data=notes)
        page = await self._post(t, t.form_saves, "/apply/form", data={**FORM, **_token(page)})
        for side in ("front", "back"):
            fields = {"doc_type": "health_insurance", "side": side, **_token(page)}
            files = {"file": (f"{side}.jpg", self.photo, "image/jpeg")}
            page = await self._post(t, t.uploads, "/apply/documents", data=fields, files=files)
        page = await self._page(t, "/apply/review")
        page = await self._post(t, t.pages, "/apply/submit", data=_token(page))
        t.flows.append(time.perf_counter() - started)
        await self.client.aclose()


def _token(page: str) -> dict[str, str]:
    return {"_csrf_token": csrf_token(page)}


def _pct(values: list[float], p: float) -> float:
    """The p-th percentile, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


async def _run(base: str, db_path: str, args: argparse.Namespace, server: int) -> None:
    photo = id_photo(1)
    alone, crowd = Timings(), Timings()
    number = 0
    # Warm-up: the first request of each kind pays for imports and template compiling.
    await Applicant(base, number, db_path, photo).apply(Timings())
    for _ in range(args.lone):
        number += 1
        await Applicant(base, number, db_path, photo).apply(alone)
    cpu_before = cpu_seconds(server)
    for _ in range(args.rounds):
        batch = []
        for _ in range(args.applicants):
            number += 1
            batch.append(Applicant(base, number, db_path, photo))
        await asyncio.gather(*(one.apply(crowd) for one in batch))
    cpu_per_flow = (cpu_seconds(server) - cpu_before) / (args.rounds * args.applicants)
    _report(alone, crowd, args, len(photo), cpu_per_flow)


def _report(
    alone: Timings, crowd: Timings, args: argparse.Namespace, photo_bytes: int, cpu: float
) -> None:
    n = args.applicants
    print(
        f"\nuvicorn, {args.workers} worker(s), SQLite, {os.cpu_count()} cores; "
        f"{args.lone} lone applicant(s), then {args.rounds} round(s) of {n} at once; "
        f"photos {photo_bytes // 1000} KB JPEG\n"
    )
    print(f"{'':<36}{'count':>7}{'p50 ms':>10}{'p99 ms':>10}")
    for label, values in (
        ("pages, alone", alone.pages),
        (f"pages, {n} at once", crowd.pages),
        ("form save (Argon2), alone", alone.form_saves),
        (f"form save (Argon2), {n} at once", crowd.form_saves),
        ("upload, alone", alone.uploads),
        (f"upload, {n} at once", crowd.uploads),
        ("whole flow, alone", [s * 1000 for s in alone.flows]),
        (f"whole flow, {n} at once", [s * 1000 for s in crowd.flows]),
    ):
        print(f"{label:<36}{len(values):>7}{_pct(values, 50):>10.0f}{_pct(values, 99):>10.0f}")
    pages_p99 = _pct(crowd.pages, 99)
    ratio = _pct(crowd.flows, 99) / _pct(alone.flows, 99)
    lone = statistics.median(alone.flows)
    print()
    print(f"pages' p99, {n} at once: {pages_p99:.0f} ms  (target < {PAGES_P99_TARGET_MS:.0f} ms)")
    print(f"whole flow p99, {n} at once / alone: {ratio:.2f}  (target < {FLOW_RATIO_TARGET})")
    # What the machine allows: n flows' CPU shared by the cores, against one flow alone.
    floor = n * cpu / (os.cpu_count() or 1) / lone
    print(
        f"server CPU per flow {cpu * 1000:.0f} ms: {n} flows on {os.cpu_count()} cores take at "
        f"least {floor:.2f}x a lone flow ({lone * 1000:.0f} ms) at once, whatever the locking"
    )
    if args.slowest:
        print(f"\nthe {args.slowest} slowest pages with {n} at once:")
        for ms, label in sorted(crowd.labelled, reverse=True)[: args.slowest]:
            print(f"  {ms:>8.0f} ms  {label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applicants", type=int, default=10, help="applicants at once")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of applicants at once")
    parser.add_argument("--lone", type=int, default=5, help="lone applicants, one at a time")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--slowest", type=int, default=0, help="list the N slowest requests")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cardservice-bench-") as tmp:
        port = free_port()
        env = server_env(
            tmp,
            port,
            args.workers,
            CARDSERVICE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/cardservice.db",
            CARDSERVICE_BASE_URL=f"http://127.0.0.1:{port}",
            CARDSERVICE_MAIL_CATCHER_PORT=str(free_port()),
        )
        settings = Settings.from_env(env)
        asyncio.run(upgrade(settings.async_database_url))
        with serving(env, ready_timeout=60, stop_timeout=20) as server:
            db_path = f"{tmp}/cardservice.db"
            asyncio.run(_run(f"http://127.0.0.1:{port}", db_path, args, server.pid))


if __name__ == "__main__":
    main()
