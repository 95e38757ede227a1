"""Benchmark of online registration with applicants at once, on SQLite.

Starts the service as production would (``cardservice serve``, SQLite in a temporary
directory) and sends applicants through the whole flow over HTTP, each from an address of
its own (127.0.0.x): the email, the link read from the outbox as the applicant reads it
from their mail, the notes, the form with a password, both sides of a health insurance
card (a small photo-like JPEG each), the review and the submission. In the same run:

- a lone applicant several times (the baseline);
- ``--applicants`` at once *as people apply*: each starts within the first seconds and
  pauses between pages as a person reads and types (``--pause`` seconds at most, drawn at
  random, seeded), so that their requests overlap as ten people's do;
- ``--applicants`` at once *in lock step*: all start together and never pause, the worst
  case, where the flows' CPU (Argon2, image checks) shared by the cores sets a floor that
  no locking can lower; the floor is printed beside it.

A flow's time is what the applicant waits for the service: the sum of its requests'
times, pauses left out. Prints the p50 and p99 of the pages (every request but the uploads
and the form's save, which hashes the password with Argon2, shown apart) and of the whole
flow, and the ratios to the lone applicant. Targets (for applicants at once as people
apply): pages' p99 < 150 ms; the whole flow's p99 < 2x the lone applicant's.

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

    def __init__(
        self, base: str, number: int, db_path: str, photo: bytes, pause: float = 0.0
    ) -> None:
        # An address of its own: the link emails are limited per client address.
        transport = httpx.AsyncHTTPTransport(
            local_address=f"127.0.{number // 250}.{number % 250 + 2}"
        )
        self.client = httpx.AsyncClient(base_url=base, transport=transport, timeout=120)
        self.email = f"applicant{number}@example.org"
        self.db_path = db_path
        self.photo = photo
        self.pause = pause
        self.rng = random.Random(number)
        self.waited = 0.0

    async def _timed(
        self, t: Timings, kind: list[float], method: str, url: str, **kw: object
    ) -> httpx.Response:
        if self.pause:
            # A person reads the page and types before the next request.
            await asyncio.sleep(self.rng.uniform(0, self.pause))
        started = time.perf_counter()
        response = await self.client.request(method, url, **kw)  # type: ignore[arg-type]
        kind.append((time.perf_counter() - started) * 1000)
        self.waited += kind[-1] / 1000
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

    async def apply(self, t: Timings, start_within: float = 0.0) -> None:
        await asyncio.sleep(self.rng.uniform(0, start_within))
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
        t.flows.append(self.waited)
        await self.client.aclose()


def _token(page: str) -> dict[str, str]:
    return {"_csrf_token": csrf_token(page)}


def _pct(values: list[float], p: float) -> float:
    """The p-th percentile, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


async def _run(base: str, db_path: str, args: argparse.Namespace, server: int) -> None:
    photo = id_photo(1)
    alone, paced, crowd = Timings(), Timings(), Timings()
    number = 0
    # Warm-up: the first request of each kind pays for imports and template compiling.
    await Applicant(base, number, db_path, photo).apply(Timings())
    for _ in range(args.lone):
        number += 1
        await Applicant(base, number, db_path, photo).apply(alone)
    for _ in range(args.rounds):
        batch = []
        for _ in range(args.applicants):
            number += 1
            batch.append(Applicant(base, number, db_path, photo, pause=args.pause))
        await asyncio.gather(*(one.apply(paced, start_within=args.pause * 4) for one in batch))
    cpu_before = cpu_seconds(server)
    for _ in range(args.rounds):
        batch = []
        for _ in range(args.applicants):
            number += 1
            batch.append(Applicant(base, number, db_path, photo))
        await asyncio.gather(*(one.apply(crowd) for one in batch))
    cpu_per_flow = (cpu_seconds(server) - cpu_before) / (args.rounds * args.applicants)
    _report(alone, paced, crowd, args=args, photo_bytes=len(photo), cpu=cpu_per_flow)


def _report(
    alone: Timings,
    paced: Timings,
    crowd: Timings,
    *,
    args: argparse.Namespace,
    photo_bytes: int,
    cpu: float,
) -> None:
    n = args.applicants
    print(
        f"\nuvicorn, {args.workers} worker(s), SQLite, {os.cpu_count()} cores; "
        f"{args.lone} lone applicant(s), then {args.rounds} round(s) of {n} at once as people "
        f"apply (pauses up to {args.pause} s), then {args.rounds} round(s) of {n} in lock step; "
        f"photos {photo_bytes // 1000} KB JPEG; times are what the applicant waits\n"
    )
    print(f"{'':<50}{'count':>7}{'p50 ms':>10}{'p99 ms':>10}")
    rows = [("alone", alone), (f"{n} at once as people apply", paced)]
    rows.append((f"{n} at once in lock step", crowd))
    for what, label in (
        ("pages", "pages"),
        ("form_saves", "form save (Argon2)"),
        ("uploads", "upload"),
        ("flows", "whole flow"),
    ):
        for who, timings in rows:
            values = getattr(timings, what)
            if what == "flows":
                values = [s * 1000 for s in values]
            line = f"{label}, {who}"
            print(f"{line:<50}{len(values):>7}{_pct(values, 50):>10.0f}{_pct(values, 99):>10.0f}")
    lone_p99 = _pct(alone.flows, 99)
    print()
    for who, timings in rows[1:]:
        pages_p99 = _pct(timings.pages, 99)
        ratio = _pct(timings.flows, 99) / lone_p99
        print(
            f"{who}: pages' p99 {pages_p99:.0f} ms (target < {PAGES_P99_TARGET_MS:.0f} ms); "
            f"whole flow p99 / alone {ratio:.2f} (target < {FLOW_RATIO_TARGET})"
        )
    # What the machine allows in lock step: n flows' CPU shared by the cores.
    lone = statistics.median(alone.flows)
    floor = n * cpu / (os.cpu_count() or 1) / lone
    print(
        f"in lock step, server CPU per flow {cpu * 1000:.0f} ms: {n} flows on {os.cpu_count()} "
        f"cores take at least {floor:.2f}x a lone flow ({lone * 1000:.0f} ms), whatever the "
        "locking"
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
    parser.add_argument(
        "--pause", type=float, default=1.5, help="longest pause between pages, seconds"
    )
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
