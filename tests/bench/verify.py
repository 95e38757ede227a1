"""Benchmark of POST /api/v1/verify against a bare Litestar endpoint on the same server.

Starts the service as production would (``cardservice serve``: uvicorn with uvloop and
httptools, the documented worker count), loads it with wrk (not Python-bound), and in the
same run measures: verify by barcode, verify by token, verify of an unknown number, the
counter station's lookup (``POST /staff/counter/scan`` with a counter staff member's session
and CSRF token: the session's staff reload, the verdict and the holder's name), and a bare
POST endpoint that parses a JSON body of the same size and returns a small JSON. Prints
requests/s, p50 and p99 for each, and the ratios verify/bare. Once the server is idle
after its start, the cases run in turn, round after round (5 by default), and each figure
is the median over the rounds: a drift of the machine falls on bare and verify alike.
Then it scans random cards at 10,000 patrons, grows the tables to 1,000,000 and scans random
cards again: the p99 at 1M over the p99 at 10k.

SQLite by default (a file in a temporary directory); with ``--database-url
postgresql+asyncpg://user@host/db`` a scratch database of its own on that server, dropped at
the end (the named database is only used to create it).

    make bench                      # both engines (PostgreSQL when it is reachable)
    .venv/bin/python tests/bench/verify.py --help
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from common import cpu_seconds, csrf_token, free_port, server_env, serving

from cardservice.cards.allocation import allocate_number
from cardservice.cards.numbers import NumberFormat, barcode_text, compose
from cardservice.cards.service import CardPolicy, card_token
from cardservice.db.engine import sqlite_path
from cardservice.db.migrate import upgrade
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.security.apikeys import create_api_key
from cardservice.services import Services
from cardservice.settings import Settings
from cardservice.staff.models import Role
from cardservice.staff.service import create_staff

# verify/bare, req/s (the targets); the token target is the same on both engines.
TARGETS = {("barcode", "SQLite"): 0.75, ("barcode", "PostgreSQL"): 0.6, ("token", None): 0.45}
SCALE_TARGET = 1.2  # p99 at 1M patrons over p99 at 10k
# Serials of the copied patrons' cards: far above the few the sequence hands out here.
FIRST_BULK_SERIAL = 2_000_000
SAMPLE = 1000  # random cards per scale measurement
COUNTER_STAFF, COUNTER_PASSWORD = "bench-counter", "bench counter station 2026"
COUNTER_CASE = "counter station scan"


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    # Server CPU time per request: unlike req/s, it does not depend on what else runs on the
    # machine (wrk itself takes a core of two), so the ratio of it is the steadier figure.
    cpu_us: float


async def _seed(settings: Settings) -> dict[str, str]:
    """An API key and two patrons with cards (one scanned in the fixed cases, one the
    template the bulk copies are made of), and a number no card holds."""
    await upgrade(settings.async_database_url)
    svc = Services.build(settings)
    try:
        async with svc.db.transaction() as session:
            _, key = await create_api_key(session, "bench")
            await create_staff(session, COUNTER_STAFF, COUNTER_PASSWORD, Role.COUNTER)
            made = [
                await create_patron_with_card(
                    session,
                    NewPatron(
                        family_name="試験",
                        given_name=f"{i}",
                        family_kana="シケン",
                        given_kana="タロウ",
                        birth_date=date(1990, 1, 1),
                        email=f"bench{i}@example.org",
                    ),
                    svc.policy,
                )
                for i in range(2)
            ]
            unknown = await allocate_number(session, svc.policy.number_format)
        card = made[0]
        token = card_token(
            card,
            svc.keyring,
            svc.policy,
            issuer=settings.issuer,
            audience=settings.token_audience,
        )
        return {
            "key": key,
            "barcode": barcode_text(svc.policy.number_format, card.user_number),
            "unknown": barcode_text(svc.policy.number_format, unknown),
            "token": token,
            "template": made[1].user_number,
        }
    finally:
        await svc.close()


@dataclass
class Growth:
    """Copies of one patron and their card, with numbers of our own, up to a total."""

    url: str
    fmt: NumberFormat
    template: str  # the user number of the template card
    copies: int = 0

    def serials(self) -> range:
        return range(FIRST_BULK_SERIAL, FIRST_BULK_SERIAL + self.copies)

    def sample(self, count: int) -> list[str]:
        """Barcodes of ``count`` random copied cards, as a scanner reads them."""
        picked = random.sample(self.serials(), min(count, self.copies))
        return [barcode_text(self.fmt, compose(self.fmt, serial)) for serial in picked]

    def grow_to(self, total: int) -> None:
        start, self.copies = self.copies, max(self.copies, total)
        for low in range(start, self.copies, 50_000):
            high = min(low + 50_000, self.copies)
            if self.url.startswith("sqlite"):
                self._sqlite(low, high)
            else:
                asyncio.run(self._postgres(low, high))

    def _rows(
        self, low: int, high: int, patron: dict[str, Any], card: dict[str, Any]
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        # Ids far above those of the few made through the service, so both never meet.
        patrons, cards = [], []
        for i in range(low, high):
            serial = FIRST_BULK_SERIAL + i
            pid = 10_000_000 + i
            patrons.append(tuple({**patron, "id": pid, "email": f"p{i}@example.org"}.values()))
            number = compose(self.fmt, serial)
            cards.append(
                tuple(
                    {
                        **card,
                        "id": pid,
                        "patron_id": pid,
                        "user_number": number,
                        "token_jti": f"bench-{serial}",
                    }.values()
                )
            )
        return patrons, cards

    def _sqlite(self, low: int, high: int) -> None:
        connection = sqlite3.connect(sqlite_path(self.url), timeout=30)
        try:
            patron, card = (
                _row_of(connection.execute(sql, (self.template,)))
                for sql in (_TEMPLATE_PATRON.replace("$1", "?"), _TEMPLATE_CARD.replace("$1", "?"))
            )
            patrons, cards = self._rows(low, high, patron, card)
            with connection:
                for table, columns, rows in (
                    ("patrons", patron, patrons),
                    ("cards", card, cards),
                ):
                    marks = ", ".join("?" * len(columns))
                    names = ", ".join(columns)
                    connection.executemany(
                        f"INSERT INTO {table} ({names}) VALUES ({marks})",  # noqa: S608  # ours
                        rows,
                    )
        finally:
            connection.close()

    async def _postgres(self, low: int, high: int) -> None:
        import asyncpg  # noqa: PLC0415  # PostgreSQL runs only

        connection = await asyncpg.connect(_plain_dsn(self.url))
        try:
            patron = dict(await connection.fetchrow(_TEMPLATE_PATRON, self.template))
            card = dict(await connection.fetchrow(_TEMPLATE_CARD, self.template))
            patrons, cards = self._rows(low, high, patron, card)
            async with connection.transaction():
                await connection.copy_records_to_table(
                    "patrons", records=patrons, columns=list(patron)
                )
                await connection.copy_records_to_table("cards", records=cards, columns=list(card))
            await connection.execute("ANALYZE patrons; ANALYZE cards")
        finally:
            await connection.close()


_TEMPLATE_CARD = "SELECT * FROM cards WHERE user_number = $1"
_TEMPLATE_PATRON = (
    "SELECT * FROM patrons WHERE id = (SELECT patron_id FROM cards WHERE user_number = $1)"
)


def _row_of(cursor: sqlite3.Cursor) -> dict[str, Any]:
    names = [column[0] for column in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def _plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@contextmanager
def _database(url: str, tmp: str) -> Iterator[str]:
    """SQLite in ``tmp``, or a scratch database on the PostgreSQL server of ``url``."""
    if not url:
        yield f"sqlite+aiosqlite:///{tmp}/cardservice.db"
        return
    import asyncpg  # noqa: PLC0415  # PostgreSQL runs only

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(_plain_dsn(url))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    name = f"cardservice_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    parts = urlsplit(url)
    try:
        yield urlunsplit(parts._replace(path="/" + name))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _lua(path: Path, body: dict[str, str] | list[dict[str, str]], key: str) -> Path:
    """A wrk script posting ``body``, or the ``bodies`` in turn (the warm-up, two seconds,
    goes through them all, so each card's last use is written before the measurement)."""
    script = path.with_suffix(".lua")
    head = (
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["X-API-Key"] = "{key}"\n'
    )
    if isinstance(body, dict):
        script.write_text(head + f"wrk.body = {json.dumps(json.dumps(body))}\n")
        return script
    bodies = ",\n".join(json.dumps(json.dumps(one)) for one in body)
    script.write_text(
        head
        + f"local bodies = {{\n{bodies}\n}}\n"
        + "local next_body = 0\n"
        + "request = function()\n"
        + "  next_body = next_body % #bodies + 1\n"
        + "  return wrk.format(nil, nil, nil, bodies[next_body])\n"
        + "end\n"
    )
    return script


def _form_lua(path: Path, form: dict[str, str], cookie: str) -> Path:
    """A wrk script posting ``form`` (URL-encoded) with the session's ``cookie``, as the
    counter station's script does."""
    script = path.with_suffix(".lua")
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        'wrk.headers["Accept"] = "application/json"\n'
        f'wrk.headers["Cookie"] = {json.dumps(cookie)}\n'
        f"wrk.body = {json.dumps(urlencode(form))}\n"
    )
    return script


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None  # the 303 after login is read, not followed


def _counter_session(base: str) -> tuple[str, str]:
    """Log the counter staff member in: (the Cookie header, the station form's CSRF token)."""
    opener = urllib.request.build_opener(_NoRedirect)
    cookies: dict[str, str] = {}

    def call(path: str, form: dict[str, str] | None = None) -> str:
        request = urllib.request.Request(  # noqa: S310  # our own server on loopback
            base + path,
            data=urlencode(form).encode() if form is not None else None,
            headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
        )
        try:
            response = opener.open(request, timeout=30)
        except urllib.error.HTTPError as error:  # the 303 after login
            response = error
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            cookies[name] = rest.split(";", 1)[0]
        return str(response.read().decode())

    token = csrf_token(call("/staff/login"))
    call("/staff/login", {"username": COUNTER_STAFF, "password": COUNTER_PASSWORD,
                          "_csrf_token": token})  # fmt: skip
    station = call("/staff/counter")
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return cookie, csrf_token(station)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def _wrk(
    name: str, url: str, script: Path, args: argparse.Namespace, server: int, *, warm: bool = True
) -> Result:
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    if warm:
        subprocess.run([*command[:3], "-d2s", *command[4:]], capture_output=True, check=True)
    cpu_before = cpu_seconds(server)
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(server) - cpu_before
    if "Non-2xx" in out:
        raise SystemExit(f"{name}: the server answered errors:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    return Result(name, rps, p50, p99, cpu / count * 1e6)


def _combined(rounds: list[Result]) -> Result:
    """One case over its rounds: the median of each figure (a round disturbed by something
    else on the machine moves a mean, not a median)."""
    return Result(
        rounds[0].name,
        statistics.median(r.rps for r in rounds),
        statistics.median(r.p50_ms for r in rounds),
        statistics.median(r.p99_ms for r in rounds),
        statistics.median(r.cpu_us for r in rounds),
    )


def _settle(server: int, *, idle_share: float = 0.03, timeout: float = 60) -> None:
    """Wait until the server is idle: its start-up work (the scheduled jobs' first run, the
    mail relay's first pass) would otherwise fall into the first case measured, and only
    into that one. Idle is under ``idle_share`` of a core over one second."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(server)
        time.sleep(1)
        if cpu_seconds(server) - before < idle_share:
            return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="rounds of the cases in turn; each figure is the median over them",
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument(
        "--database-url",
        default="",
        help="postgresql+asyncpg://user@host/db: a scratch database on that server "
        "(default: SQLite in a temp dir)",
    )
    parser.add_argument("--patrons", type=int, default=10_000, help="patrons at first")
    parser.add_argument(
        "--large", type=int, default=1_000_000, help="patrons for the second p99 (0: skip)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk (make bench installs it)")

    with (
        tempfile.TemporaryDirectory(prefix="cardservice-bench-") as tmp,
        _database(args.database_url, tmp) as database_url,
    ):
        port = free_port()
        env = server_env(
            tmp,
            port,
            args.workers,
            CARDSERVICE_DATABASE_URL=database_url,
            CARDSERVICE_BENCH_BASELINE="1",
            CARDSERVICE_MAIL_CATCHER_PORT=str(free_port()),
        )
        settings = Settings.from_env(env)
        seeded = asyncio.run(_seed(settings))
        growth = Growth(
            settings.async_database_url,
            CardPolicy.of(settings.profile).number_format,
            seeded["template"],
        )
        growth.grow_to(args.patrons)
        grown_in = 0.0
        with serving(env, stop_timeout=10) as server:
            base = f"http://127.0.0.1:{port}"
            key = seeded["key"]
            path = Path(tmp)
            baseline = "/api/_bench/baseline"
            cases: list[tuple[str, str, Any]] = [
                ("bare (barcode-sized body)", baseline, {"barcode": seeded["barcode"]}),
                ("verify by barcode", "/api/v1/verify", {"barcode": seeded["barcode"]}),
                ("verify unknown number", "/api/v1/verify", {"barcode": seeded["unknown"]}),
                ("bare (token-sized body)", baseline, {"token": seeded["token"]}),
                ("verify by token", "/api/v1/verify", {"token": seeded["token"]}),
                (
                    f"random cards, {_count(args.patrons)}",
                    "/api/v1/verify",
                    [{"barcode": b} for b in growth.sample(SAMPLE)],
                ),
            ]
            scripts = [
                (name, base + route, _lua(path / f"case{i}", body, key))
                for i, (name, route, body) in enumerate(cases)
            ]
            _settle(server.pid)
            # Round after round of every case in turn, so that a drift of the machine (another
            # process, the CPU's clock) falls on bare and verify alike; each case warms up once.
            rounds: dict[str, list[Result]] = {name: [] for name, _, _ in scripts}
            for number in range(args.rounds):
                for name, url, script in scripts:
                    warm = number == 0
                    rounds[name].append(_wrk(name, url, script, args, server.pid, warm=warm))
            results = {name: _combined(measured) for name, measured in rounds.items()}
            cookie, form_token = _counter_session(base)
            station = {"scanned": seeded["barcode"], "_csrf_token": form_token}
            script = _form_lua(path / "counter", station, cookie)
            url = base + "/staff/counter/scan"
            results[COUNTER_CASE] = _wrk(COUNTER_CASE, url, script, args, server.pid)
            if args.large > args.patrons:
                grow_started = time.monotonic()
                growth.grow_to(args.large)
                grown_in = time.monotonic() - grow_started
                name = f"random cards, {_count(args.large)}"
                body = [{"barcode": b} for b in growth.sample(SAMPLE)]
                script = _lua(path / "large", body, key)
                results[name] = _wrk(name, base + "/api/v1/verify", script, args, server.pid)

    engine = "SQLite" if settings.is_sqlite else "PostgreSQL"
    _report(results, args, engine, grown_in, rounds)


def _report(
    results: dict[str, Result],
    args: argparse.Namespace,
    engine: str,
    grown_in: float,
    rounds: dict[str, list[Result]],
) -> None:
    print(
        f"\nuvicorn, {args.workers} worker(s), {engine}, wrk -t{args.threads} "
        f"-c{args.connections} -d{args.duration}s x {args.rounds} rounds (medians), "
        f"{os.cpu_count()} cores\n"
    )
    print(f"{'case':<32}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'CPU us/req':>12}")
    for r in results.values():
        print(f"{r.name:<32}{r.rps:>10.0f}{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}{r.cpu_us:>12.1f}")
    print()
    # Each round's own ratio (a case and its bare run a few seconds apart) shows how much the
    # machine moved under the run; the ratio of the medians is the figure.
    print(f"{engine:<32}{'req/s ratio':>14}{'CPU ratio':>12}   {'rounds (req/s)':<20}")
    for kind, bare, verify in (
        ("barcode", "bare (barcode-sized body)", "verify by barcode"),
        ("unknown", "bare (barcode-sized body)", "verify unknown number"),
        ("token", "bare (token-sized body)", "verify by token"),
        ("counter station", "bare (barcode-sized body)", COUNTER_CASE),
    ):
        ratio = results[verify].rps / results[bare].rps
        cpu_ratio = results[bare].cpu_us / results[verify].cpu_us
        target = TARGETS.get((kind, engine), TARGETS.get((kind, None)))
        goal = f"  (target >= {target})" if target else ""
        each = []
        if verify in rounds:  # the counter station runs once, after the rounds
            paired = zip(rounds[bare], rounds[verify], strict=True)
            each = [v.rps / b.rps for b, v in paired]
        spread = f"{min(each):.2f}-{max(each):.2f}" if each else "-"
        print(f"verify/bare, {kind:<19}{ratio:>14.2f}{cpu_ratio:>12.2f}   {spread:<20}{goal}")
    if args.large > args.patrons:
        small = results[f"random cards, {_count(args.patrons)}"]
        large = results[f"random cards, {_count(args.large)}"]
        print(
            f"p99 at {_count(args.large)} / p99 at {_count(args.patrons)}: "
            f"{large.p99_ms / small.p99_ms:.2f}  (target <= {SCALE_TARGET}; "
            f"{args.large - args.patrons:,} patrons added in {grown_in:.0f} s)"
        )


def _count(patrons: int) -> str:
    if patrons >= 1_000_000 and patrons % 1_000_000 == 0:
        return f"{patrons // 1_000_000}M patrons"
    if patrons >= 1000 and patrons % 1000 == 0:
        return f"{patrons // 1000}k patrons"
    return f"{patrons} patrons"


if __name__ == "__main__":
    main()
