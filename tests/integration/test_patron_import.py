"""`cardservice patron import FILE.csv` as an operator runs it (the console script in a
subprocess), with Kashiwa's Japanese export format, on both engines: rows it cannot take are
reported by line, a second run changes nothing, an imported card keeps its number and works
at the counter, and an imported number is never handed out again."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cardservice.cards.allocation import allocate_number
from cardservice.cards.models import Card, CardEvent
from cardservice.cards.numbers import compose
from cardservice.cards.service import CardPolicy, new_jti
from cardservice.cards.verification import Status
from cardservice.cli.common import cli_actor
from cardservice.cli.patron import REFUSED_ROWS_EXIT
from cardservice.patrons.models import Patron
from cardservice.services import Services
from cardservice.settings import Settings
from cardservice.staff.models import AuditEntry
from tests.cli_support import cardservice, cli_env

HEADER = (
    "利用者番号,氏,名,氏カナ,名カナ,生年月日,メールアドレス,電話番号,郵便番号,都道府県,"
    "市区町村,番地,建物名,有効期限,状態"
)


@pytest.fixture
def profile_name() -> str:
    return "kashiwa"


@pytest.fixture
def env(empty_db: Settings) -> dict[str, str]:
    return cli_env(empty_db, empty_db.data_dir)


def number(settings: Settings, serial: int) -> str:
    return compose(CardPolicy.of(settings.profile).number_format, serial)


def wrong_check_digit(good: str) -> str:
    return good[:-1] + str((int(good[-1]) + 1) % 10)


def export(path: Path, rows: list[str], encoding: str = "utf-8-sig") -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding=encoding)
    return path


def read(settings: Settings, work: Any) -> Any:
    async def go() -> Any:
        svc = Services.build(settings)
        try:
            return await work(svc)
        finally:
            await svc.close()

    return asyncio.run(go())


async def _counts(svc: Services) -> tuple[int, ...]:
    """How many patrons, cards and card events there are."""
    found = []
    async with svc.db.transaction() as session:
        for model in (Patron, Card, CardEvent):
            found.append(int(await session.scalar(select(func.count()).select_from(model)) or 0))
    return tuple(found)


def test_import_reports_bad_rows_by_line_and_is_idempotent(
    env: dict[str, str], empty_db: Settings, tmp_path: Path
) -> None:
    n = [number(empty_db, serial) for serial in range(1, 12)]
    rows = [
        f"{n[1]},山田,花子,やまだ,ﾊﾅｺ,1990/04/01,Hanako@Example.org,04-7167-1111,277-0005,千葉県,柏市,柏1-1,,2027/03/31,有効",
        f"B{n[2]}B,鈴木,一郎,スズキ,イチロウ,1985/01/02,,,,,,,,2026/12/31,停止",
        f"{wrong_check_digit(n[3])},佐藤,次郎,サトウ,ジロウ,1985/01/02,,,,,,,,2026/12/31,有効",
        f"{n[4]},,次郎,サトウ,ジロウ,1985/01/02,,,,,,,,2026/12/31,有効",
        f"{n[5]},田中,三郎,タナカ,サブロウ,1985/13/02,,,,,,,,2026/12/31,有効",
        f"{n[6]},田中,三郎,タナカ,サブロウ,1985/12/02,not-an-email,,,,,,,2026/12/31,有効",
        f"{n[7]},田中,三郎,タナカ,サブロウ,1985/12/02,,,,,,,,2026/12/31,不明",
        f"{n[8]},田中,四郎,タナカ,シロウ,1985/12/02,,,,,,,,2026/12/31,有効",
        f"{n[8]},田中,五郎,タナカ,ゴロウ,1985/12/02,,,,,,,,2026/12/31,有効",
        f"{n[9]},田中,六郎,tanaka,ロクロウ,1985/12/02,,,,,,,,2026/12/31,有効",
        f"{n[10]},高橋,七郎,タカハシ,シチロウ,1985/12/02,,,,,,,,2020/12/31,除籍",
    ]
    path = export(tmp_path / "ils.csv", rows)

    dry_run = cardservice(env, "patron", "import", str(path), "--dry-run", ok=False)
    assert dry_run.code == REFUSED_ROWS_EXIT  # some rows were refused: a cron job can tell
    dry = dry_run.out
    assert "dry run, nothing written: created 3, updated 0, unchanged 0, refused 8" in dry
    assert read(empty_db, _counts) == (0, 0, 0)

    first = cardservice(env, "patron", "import", str(path), ok=False).out.splitlines()
    assert first == [
        "line 4: the user number's check digit is wrong (user_number)",
        "line 5: a name is missing (family_name)",
        "line 6: a date is missing or not in the profile's date format (birth_date)",
        "line 7: the email address is not valid (email)",
        "line 8: the status is not one of the profile's import statuses (status)",
        "line 9: the same user number is on more than one line (lines 9, 10)",
        "line 10: the same user number is on more than one line (lines 9, 10)",
        "line 11: the reading is not in kana (family_kana)",
        "created 3, updated 0, unchanged 0, refused 8",
    ]
    counts = read(empty_db, _counts)
    assert counts == (3, 3, 3)

    second = cardservice(env, "patron", "import", str(path), ok=False).out.splitlines()
    assert second[-1] == "created 0, updated 0, unchanged 3, refused 8; nothing changed"
    assert read(empty_db, _counts) == counts

    async def imported(svc: Services) -> dict[str, Any]:
        async with svc.db.transaction() as session:
            rows = await session.execute(
                select(Card, Patron).join(Patron, Patron.id == Card.patron_id)
            )
            audits = list(await session.scalars(select(AuditEntry.detail)))
            found = {card.user_number: (card, patron) for card, patron in rows}
        verdicts = {num: await svc.verifier.by_barcode(num) for num in found}
        return {"found": found, "verdicts": verdicts, "audits": audits}

    state = read(empty_db, imported)
    card, patron = state["found"][n[1]]
    assert (patron.source, patron.password_hash) == ("ils", None)
    assert (patron.email, patron.phone, patron.given_kana) == (
        "hanako@example.org",
        "+81471671111",
        "ハナコ",
    )
    assert card.expires_on == date(2027, 3, 31)
    # The plastic card's number answers at the counter as it is.
    assert state["verdicts"][n[1]].status == Status.VALID
    assert (state["verdicts"][n[2]].status, state["verdicts"][n[2]].reason) == (
        Status.SUSPENDED,
        "ils",
    )
    assert (state["verdicts"][n[10]].status, state["verdicts"][n[10]].reason) == (
        Status.REVOKED,
        "withdrawn",
    )
    assert state["audits"][0] == {
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "refused": 8,
        "actor": cli_actor(),  # the operator who ran the import
    }


def test_changed_rows_are_updated_and_a_number_here_is_never_taken_over(
    env: dict[str, str], empty_db: Settings, tmp_path: Path
) -> None:
    n1, n2 = number(empty_db, 1), number(empty_db, 2)
    row = "{n},山田,花子,ヤマダ,ハナコ,1990/04/01,{email},,,,,,,{expires},{status}"
    first = [
        row.format(n=n1, email="a@example.org", expires="2026/12/31", status="有効"),
        row.format(n=n2, email="b@example.org", expires="2026/12/31", status="停止"),
    ]
    cardservice(env, "patron", "import", str(export(tmp_path / "1.csv", first)))
    later = [
        row.format(n=n1, email="new@example.org", expires="2029/12/31", status="有効"),
        row.format(n=n2, email="b@example.org", expires="2025/01/01", status="有効"),
    ]
    out = cardservice(env, "patron", "import", str(export(tmp_path / "2.csv", later))).out
    assert out.splitlines()[-1] == "created 0, updated 2, unchanged 0, refused 0"

    async def cards(svc: Services) -> dict[str, tuple[str, str, date]]:
        async with svc.db.transaction() as session:
            rows = await session.execute(
                select(Card.user_number, Card.status, Patron.email, Card.expires_on).join(
                    Patron, Patron.id == Card.patron_id
                )
            )
            return {num: (status, email, expires) for num, status, email, expires in rows}

    assert read(empty_db, cards) == {
        n1: ("active", "new@example.org", date(2029, 12, 31)),
        # The export's own suspension is lifted; an earlier expiry never shortens the card.
        n2: ("active", "b@example.org", date(2026, 12, 31)),
    }

    # A card reissued here stays revoked, and an online patron's number is not taken over.
    cardservice(env, "card", "reissue", n1, "--reason", "lost")
    online = cardservice(
        env, "patron", "create", "--family-name", "新", "--given-name", "人",
        "--family-kana", "あたら", "--given-kana", "ひと", "--birth-date", "2000-01-01",
        "--email", "new-patron@example.org",
    ).out  # fmt: skip
    online_number = re.search(r"user number (\S+),", online).group(1)  # type: ignore[union-attr]
    third = [
        *later,
        row.format(n=online_number, email="x@example.org", expires="2030/01/01", status="有効"),
    ]
    out = cardservice(env, "patron", "import", str(export(tmp_path / "3.csv", third)), ok=False).out
    assert out.splitlines() == [
        f"line 2: the card was revoked here (reissued or withdrawn); it stays revoked ({n1})",
        f"line 4: the number belongs to a patron registered in this service ({online_number})",
        "created 0, updated 0, unchanged 1, refused 2; nothing changed",
    ]


def test_an_imported_number_is_never_allocated_again(
    env: dict[str, str], empty_db: Settings, tmp_path: Path
) -> None:
    # On an empty database serial 1 is what the sequence would hand out next.
    next_up = number(empty_db, 1)
    rows = [f"{next_up},山田,花子,ヤマダ,ハナコ,1990/04/01,,,,,,,,2027/03/31,有効"]
    cardservice(env, "patron", "import", str(export(tmp_path / "ils.csv", rows)))
    issued = cardservice(
        env, "patron", "create", "--family-name", "鈴木", "--given-name", "一郎",
        "--family-kana", "すずき", "--given-kana", "いちろう", "--birth-date", "1985-01-02",
        "--email", "ichiro@example.org",
    ).out  # fmt: skip
    assert next_up not in issued
    assert number(empty_db, 2) in issued  # the sequence went past the imported serial

    # The allocator also steps over a number some other path stored without the import.
    async def allocate_past_a_stored_number(svc: Services) -> str:
        stored = number(empty_db, 3)
        async with svc.db.transaction() as session:
            patron_id = await session.scalar(select(Patron.id).limit(1))
            session.add(
                Card(
                    patron_id=patron_id,
                    user_number=stored,
                    expires_on=date(2030, 1, 1),
                    token_jti=new_jti(),
                )
            )
        async with svc.db.transaction() as session:
            return await allocate_number(session, svc.policy.number_format)

    assert read(empty_db, allocate_past_a_stored_number) == number(empty_db, 4)


def test_a_file_it_cannot_read_changes_nothing(
    env: dict[str, str], empty_db: Settings, tmp_path: Path
) -> None:
    good = f"{number(empty_db, 1)},山田,花子,ヤマダ,ハナコ,1990/04/01,,,,,,,,2027/03/31,有効"
    shift_jis = export(tmp_path / "sjis.csv", [good], encoding="cp932")
    refused = cardservice(env, "patron", "import", str(shift_jis), ok=False)
    assert "import_file_encoding" in refused.err
    no_kana = tmp_path / "columns.csv"
    no_kana.write_text("利用者番号,氏,名\n1,山田,花子\n", encoding="utf-8")
    missing = cardservice(env, "patron", "import", str(no_kana), ok=False)
    assert "import_file_columns" in missing.err
    assert "氏カナ" in missing.err
    assert read(empty_db, _counts) == (0, 0, 0)
