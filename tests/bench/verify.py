"""Benchmark of POST /api/v1/verify against a bare Litestar endpoint on the same server.

Starts the service as production would (``cardservice serve``: uvicorn with uvloop and
httptools, the documented worker count), loads it with wrk (not Python-bound), and in the
same run measures: verify by barcode, verify by token, verify of an unknown number, and a bare
POST endpoint that parses a JSON body of the same size and returns a small JSON. Prints
requests/s, p50 and p99 for each, and the ratios verify/bare.

    make bench                      # or: .venv/bin/python tests/bench/verify.py --help
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from cardservice.cards.allocation import allocate_number
from cardservice.cards.numbers import barcode_text
from cardservice.cards.service import card_token
from cardservice.db.migrate import upgrade
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.security.apikeys import create_api_key
from cardservice.services import Services
from cardservice.settings import Settings

TARGETS = {"barcode": 0.7, "token": 0.4}


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    # Server CPU time per request: unlike req/s, it does not depend on what else runs on the
    # machine (wrk itself takes a core of two), so the ratio of it is the steadier figure.
    cpu_us: float


def _cpu_seconds(root: int) -> float:
    """User+system CPU of the server process and its worker children, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if root in (pid, ppid):
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


async def _seed(settings: Settings, cards: int) -> dict[str, str]:
    await upgrade(settings.async_database_url)
    svc = Services.build(settings)
    try:
        async with svc.db.transaction() as session:
            _, key = await create_api_key(session, "bench")
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
                for i in range(cards)
            ]
            unknown = await allocate_number(session, svc.policy.number_format)
        card = made[len(made) // 2]
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
        }
    finally:
        await svc.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310  # loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server did not become ready at {url}")


def _lua(path: Path, body: dict[str, str], key: str) -> Path:
    script = path.with_suffix(".lua")
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(json.dumps(body))}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["X-API-Key"] = "{key}"\n'
    )
    return script


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def _wrk(name: str, url: str, script: Path, args: argparse.Namespace, server: int) -> Result:
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
    subprocess.run([*command[:3], "-d2s", *command[4:]], capture_output=True, check=True)
    cpu_before = _cpu_seconds(server)
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu = _cpu_seconds(server) - cpu_before
    if "Non-2xx" in out:
        raise SystemExit(f"{name}: the server answered errors:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    return Result(name, rps, p50, p99, cpu / count * 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    parser.add_argument("--cards", type=int, default=2000, help="cards in the database")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk (make bench installs it)")

    with tempfile.TemporaryDirectory(prefix="cardservice-bench-") as tmp:
        port = _free_port()
        env = {
            **os.environ,
            "CARDSERVICE_DATA_DIR": tmp,
            "CARDSERVICE_PORT": str(port),
            "CARDSERVICE_WORKERS": str(args.workers),
            "CARDSERVICE_LOG_LEVEL": "WARNING",
            "CARDSERVICE_BENCH_BASELINE": "1",
        }
        if args.database_url:
            env["CARDSERVICE_DATABASE_URL"] = args.database_url
        settings = Settings.from_env(env)
        seeded = asyncio.run(_seed(settings, args.cards))
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "cardservice"), "serve", "--no-migrate"],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base + "/ready")
            key = seeded["key"]
            path = Path(tmp)
            baseline = "/api/_bench/baseline"
            cases = [
                ("bare (barcode-sized body)", baseline, {"barcode": seeded["barcode"]}),
                ("verify by barcode", "/api/v1/verify", {"barcode": seeded["barcode"]}),
                ("verify unknown number", "/api/v1/verify", {"barcode": seeded["unknown"]}),
                ("bare (token-sized body)", baseline, {"token": seeded["token"]}),
                ("verify by token", "/api/v1/verify", {"token": seeded["token"]}),
            ]
            results = {
                name: _wrk(name, base + route, _lua(path / f"case{i}", body, key), args, server.pid)
                for i, (name, route, body) in enumerate(cases)
            }
        finally:
            server.terminate()
            server.wait(timeout=10)

    engine = "SQLite" if settings.is_sqlite else "PostgreSQL"
    print(
        f"\nuvicorn, {args.workers} worker(s), {engine}, wrk -t{args.threads} "
        f"-c{args.connections} -d{args.duration}s, {os.cpu_count()} cores\n"
    )
    print(f"{'case':<28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'CPU us/req':>12}")
    for r in results.values():
        print(f"{r.name:<28}{r.rps:>10.0f}{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}{r.cpu_us:>12.1f}")
    print()
    print(f"{'':<28}{'req/s ratio':>14}{'CPU ratio':>12}")
    for kind, bare, verify in (
        ("barcode", "bare (barcode-sized body)", "verify by barcode"),
        ("unknown", "bare (barcode-sized body)", "verify unknown number"),
        ("token", "bare (token-sized body)", "verify by token"),
    ):
        ratio = results[verify].rps / results[bare].rps
        cpu_ratio = results[bare].cpu_us / results[verify].cpu_us
        target = TARGETS.get(kind)
        goal = f"  (target >= {target})" if target else ""
        print(f"verify/bare, {kind:<15}{ratio:>14.2f}{cpu_ratio:>12.2f}{goal}")


if __name__ == "__main__":
    main()
