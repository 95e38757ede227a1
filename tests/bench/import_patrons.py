"""Benchmark of ``cardservice patron import``: an ILS export of N patrons, loaded twice.

Generates N rows in the profile's export format (Kashiwa's Japanese headers by default) to a
temporary CSV, then in the same run measures:

- the baseline: reading and checking every row of that file exactly as the import does
  (CSV, number and check digit, names and kana, dates, email, phone, postal code), with no
  database at all;
- the first import, through the CLI command in-process (every row is created);
- a second import of the same file (every row is compared and found unchanged).

Prints seconds, rows/s and the ratio of each run's speed to the baseline's.

    make bench-import                 # or: .venv/bin/python tests/bench/import_patrons.py --help
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from click.testing import CliRunner

from cardservice.cards.numbers import compose
from cardservice.cards.service import CardPolicy
from cardservice.cli import main as cli
from cardservice.db.migrate import upgrade
from cardservice.patrons.import_rows import RowParser, RowRefused, read_header, records
from cardservice.profiles import load_profile
from cardservice.profiles.schema import Profile

FAMILY = [
    ("山田", "ヤマダ"),
    ("鈴木", "すずき"),
    ("佐藤", "ｻﾄｳ"),
    ("田中", "タナカ"),
    ("高橋", "たかはし"),
]
GIVEN = [
    ("花子", "ハナコ"),
    ("一郎", "いちろう"),
    ("さくら", "サクラ"),
    ("健", "ｹﾝ"),
    ("美咲", "ミサキ"),
]
STREETS = ["柏1-1", "旭町2-3-4", "豊四季5-6", "あけぼの3-2-1", "明原1-7"]


def generate(path: Path, profile: Profile, rows: int, *, seed: int = 7) -> None:
    """``rows`` patrons in the profile's export format: numbers from serial 1 up, most with
    an email and a phone, a few suspended."""
    section = profile.patron_import
    fmt = CardPolicy.of(profile).number_format
    status_of = {value: key for key, value in reversed(section.statuses.items())}
    rng = random.Random(seed)
    fields = list(section.columns)
    with path.open("w", encoding=section.encoding, newline="") as out:
        writer = csv.writer(out)
        writer.writerow([section.columns[name] for name in fields])
        for serial in range(1, rows + 1):
            family, family_kana = rng.choice(FAMILY)
            given, given_kana = rng.choice(GIVEN)
            born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 70))
            expires = date(2026, 1, 1) + timedelta(days=rng.randrange(365 * 4))
            values = {
                "user_number": compose(fmt, serial),
                "family_name": family,
                "given_name": given,
                "family_kana": family_kana,
                "given_kana": given_kana,
                "birth_date": born.strftime(section.date_format),
                "email": f"patron{serial}@example.org" if rng.random() < 0.7 else "",
                "phone": f"04-71{rng.randrange(10, 99)}-{rng.randrange(1000, 9999)}"
                if rng.random() < 0.6
                else "",
                "postal_code": "277-0005",
                "prefecture": profile.library.prefecture,
                "city": profile.library.city.ja,
                "street": rng.choice(STREETS),
                "building": "",
                "expires_on": expires.strftime(section.date_format),
                "status": status_of["suspended" if rng.random() < 0.02 else "active"],
            }
            writer.writerow([values[name] for name in fields])


def baseline(path: Path, profile: Profile) -> tuple[float, int]:
    """Seconds to read and check every row as the import does, without a database."""
    started = time.perf_counter()
    section = profile.patron_import
    parser = RowParser(section, CardPolicy.of(profile).number_format, read_header(path, section))
    taken = 0
    for line, cells in records(path, section):
        try:
            parser.parse(line, cells)
            taken += 1
        except RowRefused:
            continue
    return time.perf_counter() - started, taken


def run_import(path: Path, env: dict[str, str]) -> tuple[float, str]:
    """Seconds for ``cardservice patron import FILE`` run in-process, and its summary line."""
    started = time.perf_counter()
    result = CliRunner().invoke(cli, ["patron", "import", str(path)], env=env)
    elapsed = time.perf_counter() - started
    if result.exit_code != 0:
        sys.exit(f"the import failed:\n{result.output}")
    return elapsed, result.output.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--profile", default="kashiwa")
    parser.add_argument(
        "--database-url",
        help="an EMPTY database to import into (default: a new SQLite file in a temp dir), "
        "e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/bench_import",
    )
    args = parser.parse_args()
    profile = load_profile(args.profile)
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        folder = Path(tmp)
        url = args.database_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        asyncio.run(upgrade(url))
        export = folder / "patrons.csv"
        generate(export, profile, args.rows)
        env = {
            "CARDSERVICE_DATA_DIR": str(folder / "data"),
            "CARDSERVICE_DATABASE_URL": url,
            "CARDSERVICE_PROFILE": args.profile,
        }
        base_s, taken = baseline(export, profile)
        first_s, first = run_import(export, env)
        second_s, second = run_import(export, env)

    engine = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    print(f"\npatron import of {args.rows:,} rows ({args.profile} profile), {engine}\n")
    print(f"{'run':<34}{'seconds':>9}{'rows/s':>10}{'vs baseline':>13}")
    for name, seconds in (
        ("baseline: read + check, no DB", base_s),
        ("first import (all created)", first_s),
        ("second import (all unchanged)", second_s),
    ):
        ratio = base_s / seconds
        print(f"{name:<34}{seconds:>9.1f}{args.rows / seconds:>10.0f}{ratio:>13.2f}")
    print(f"\nbaseline took {taken:,} rows\nfirst:  {first}\nsecond: {second}")


if __name__ == "__main__":
    main()
