"""What an operator types is checked as the web form and the import check it: every command
that takes personal data or text refuses a control character, a date of birth in the
future, a bad phone or address, with a usage error (exit 2) naming the option, and writes
nothing; every numeric option has a range, so no number ends in a traceback. Each command
runs as an operator runs it (the console script in a subprocess), on both engines."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cardservice.cards.models import Card
from cardservice.db.engine import Database
from cardservice.patrons.models import Patron
from cardservice.security.models import ApiKey
from cardservice.settings import Settings
from cardservice.staff.models import AuditEntry, StaffUser
from tests.cli_support import Ran, cardservice, cli_env

CTRL = "\x01"

PATRON = {
    "--family-name": "山田",
    "--given-name": "花子",
    "--family-kana": "やまだ",
    "--given-kana": "はなこ",
    "--birth-date": "1990-04-01",
    "--email": "hanako@example.org",
}


@pytest.fixture
def env(empty_db: Settings, data_dir: Path) -> dict[str, str]:
    return cli_env(empty_db, data_dir)


def counts(settings: Settings) -> dict[str, int]:
    """Rows in each table a refused command must not have written to."""

    async def read() -> dict[str, int]:
        db = Database(settings.async_database_url)
        try:
            async with db.transaction() as session:
                return {
                    model.__tablename__: int(
                        await session.scalar(select(func.count()).select_from(model)) or 0
                    )
                    for model in (Patron, Card, AuditEntry, StaffUser, ApiKey)
                }
        finally:
            await db.dispose()

    return asyncio.run(read())


def refused(ran: Ran, option: str, code: str = "") -> None:
    """A usage error: exit 2, one ``Error:`` line naming the option (and the rule's code)."""
    assert ran.code == 2, ran
    assert "Traceback" not in ran.err
    error = [line for line in ran.err.splitlines() if line.startswith("Error:")]
    assert len(error) == 1, ran.err
    assert error[0].startswith(f"Error: Invalid value for '{option}'"), ran.err
    assert code in error[0], ran.err


def patron_args(**changes: str) -> list[str]:
    values = {**PATRON, **{f"--{key.replace('_', '-')}": v for key, v in changes.items()}}
    return [word for pair in values.items() for word in pair]


@pytest.mark.parametrize(
    ("option", "value", "code"),
    [
        ("--family-name", f"山{CTRL}田", "control_characters"),
        ("--given-name", "花\u200b子", "control_characters"),  # a zero-width space
        ("--given-name", "花\u202e子", "control_characters"),  # a bidi override
        ("--family-name", "山" * 65, "too_long"),
        ("--family-name", "   ", "required"),
        ("--family-kana", f"ヤマ{CTRL}ダ", "control_characters"),
        ("--given-kana", "hanako", "kana_invalid"),
        ("--birth-date", "2999-01-01", "birth_date_future"),
        ("--birth-date", "1850-01-01", "birth_date_too_old"),
        # Invisible characters in an address are dropped, as on every page (mail.addresses);
        # what is left must be an address.
        ("--email", f"hanako{CTRL}@@example.org", "mail_invalid_recipient"),
        ("--email", '"taro yamada"@example.jp', "mail_invalid_recipient"),
        ("--email", "hanako", "mail_invalid_recipient"),
        ("--phone", "12", "phone_invalid"),
        ("--phone", f"090{CTRL}1234-5678", "control_characters"),
    ],
)
def test_patron_create_refuses_what_the_form_refuses(
    env: dict[str, str], empty_db: Settings, option: str, value: str, code: str
) -> None:
    before = counts(empty_db)
    args = patron_args(**{option.removeprefix("--").replace("-", "_"): value})
    refused(cardservice(env, "patron", "create", *args, ok=False), option, code)
    assert counts(empty_db) == before


def test_patron_create_stores_values_as_the_form_does(
    env: dict[str, str], empty_db: Settings
) -> None:
    args = patron_args(
        family_name="  山田　 ", given_name="ＨＡＮＡＫＯ", given_kana="ﾊﾅｺ",
        email=f" Hanako@Example.org\u200b{CTRL}", phone="０９０－１２３４－５６７８",
    )  # fmt: skip
    cardservice(env, "patron", "create", *args)

    async def read() -> Patron:
        db = Database(empty_db.async_database_url)
        try:
            async with db.transaction() as session:
                return (await session.scalars(select(Patron))).one()
        finally:
            await db.dispose()

    patron = asyncio.run(read())
    assert (patron.family_name, patron.given_name) == ("山田", "HANAKO")
    assert (patron.family_kana, patron.given_kana) == ("ヤマダ", "ハナコ")
    assert patron.email == "hanako@example.org"
    assert patron.phone == "+819012345678"


def test_staff_and_api_key_texts_are_checked(env: dict[str, str], empty_db: Settings) -> None:
    before = counts(empty_db)
    bad_name = cardservice(
        env, "staff", "create", "bad name", "--role", "admin", "--password-stdin",
        stdin="correct horse battery staple\n", ok=False,
    )  # fmt: skip
    refused(bad_name, "USERNAME", "staff_bad_username")
    bad_display = cardservice(
        env, "staff", "create", "aiko", "--role", "admin", "--password-stdin",
        "--display-name", f"Aiko{CTRL}", stdin="correct horse battery staple\n", ok=False,
    )  # fmt: skip
    refused(bad_display, "--display-name", "control_characters")
    long_display = cardservice(
        env, "staff", "create", "aiko", "--role", "admin", "--password-stdin",
        "--display-name", "a" * 101, stdin="correct horse battery staple\n", ok=False,
    )  # fmt: skip
    refused(long_display, "--display-name", "too_long")
    refused(cardservice(env, "apikey", "create", f"counter{CTRL}1", ok=False), "NAME")
    refused(cardservice(env, "apikey", "create", "c" * 101, ok=False), "NAME", "too_long")
    refused(cardservice(env, "apikey", "create", " ", ok=False), "NAME", "required")
    assert counts(empty_db) == before
    # The same rule's folding where a value is good: width and spaces, as the form does.
    cardservice(
        env, "staff", "create", "aiko", "--role", "admin", "--password-stdin",
        "--display-name", "  Ａｉｋｏ　Sato ", stdin="correct horse battery staple\n",
    )  # fmt: skip
    assert "\taiko\tadmin\tactive\tAiko Sato\n" in cardservice(env, "staff", "list").out
    assert "(counter 2)" in cardservice(env, "apikey", "create", "counter　2").out


def test_card_commands_check_the_new_name_and_the_number(
    env: dict[str, str], empty_db: Settings
) -> None:
    out = cardservice(env, "patron", "create", *patron_args()).out
    number = out.split()[2].rstrip(",")
    before = counts(empty_db)
    reissue = ["card", "reissue", number, "--reason", "name_changed"]
    names = {
        "--family-name": "佐藤",
        "--given-name": "花子",
        "--family-kana": "サトウ",
        "--given-kana": "ハナコ",
    }
    for option, bad in (
        ("--family-name", f"佐{CTRL}藤"),
        ("--given-name", "花\u200e子"),
        ("--family-kana", "sato"),
        ("--given-kana", f"ハナ{CTRL}コ"),
    ):
        args = [word for pair in {**names, option: bad}.items() for word in pair]
        refused(cardservice(env, *reissue, *args, ok=False), option)
    bad_number = f"{number}{CTRL}"
    refused(cardservice(env, "card", "suspend", bad_number, ok=False), "USER_NUMBER")
    refused(
        cardservice(env, "card", "revoke", bad_number, "--reason", "lost", ok=False),
        "USER_NUMBER",
    )
    assert counts(empty_db) == before


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("keys", "rotate", "--overlap-hours", "99999999"), "--overlap-hours"),
        (("keys", "rotate", "--overlap-hours", "8761"), "--overlap-hours"),
        (("keys", "rotate", "--overlap-hours", "9" * 30), "--overlap-hours"),
        (("apikey", "revoke", "9223372036854775808"), "KEY_ID"),
        (("apikey", "revoke", "2147483648"), "KEY_ID"),
        (("apikey", "revoke", "0"), "KEY_ID"),
        (("serve", "--port", "99999"), "--port"),
        (("serve", "--port", "0"), "--port"),
        (("serve", "--workers", "0"), "--workers"),
        (("serve", "--workers", "100000000000000000000"), "--workers"),
        (("serve", "--host", f"127.0.0.1{CTRL}"), "--host"),
        (("demo", "--port", "65536"), "--port"),
    ],
)
def test_numbers_out_of_range_are_usage_errors(
    tmp_path: Path, args: tuple[str, ...], option: str
) -> None:
    refused(cardservice({"CARDSERVICE_DATA_DIR": str(tmp_path)}, *args, ok=False), option)
    assert not (tmp_path / "keys").exists()  # refused before anything was made


def test_the_longest_overlap_is_taken(tmp_path: Path) -> None:
    env = {"CARDSERVICE_DATA_DIR": str(tmp_path)}
    assert "signs from " in cardservice(env, "keys", "rotate", "--overlap-hours", "8760").out
    assert "At most 8760 (a year)" in cardservice(env, "keys", "rotate", "--help").out


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CARDSERVICE_KEY_OVERLAP_HOURS", "99999999"),
        ("CARDSERVICE_DB_POOL_SIZE", "9" * 30),
        ("CARDSERVICE_DB_POOL_TIMEOUT", "1e999"),
        ("CARDSERVICE_PORT", "99999"),
    ],
)
def test_numeric_settings_out_of_range_are_one_line(
    tmp_path: Path, variable: str, value: str
) -> None:
    env = {"CARDSERVICE_DATA_DIR": str(tmp_path), variable: value}
    ran = cardservice(env, "keys", "rotate", ok=False)
    assert ran.code == 1
    assert ran.err.startswith(f"Error: configuration: {variable}: must be "), ran.err
    assert ran.err.count("\n") == 1, ran.err


KASHIWA_HEADER = (
    "利用者番号,氏,名,氏カナ,名カナ,生年月日,メールアドレス,電話番号,郵便番号,都道府県,"
    "市区町村,番地,建物名,有効期限,状態"
)


@pytest.mark.parametrize("profile_name", ["kashiwa"])  # the profile with an [import] section
def test_patron_import_refuses_the_birth_dates_the_form_refuses(
    env: dict[str, str], empty_db: Settings, tmp_path: Path, profile_name: str
) -> None:
    from cardservice.cards.numbers import compose  # noqa: PLC0415
    from cardservice.cards.service import CardPolicy  # noqa: PLC0415

    fmt = CardPolicy.of(empty_db.profile).number_format
    first, second, third = (compose(fmt, serial) for serial in (1, 2, 3))
    rows = [
        f"{first},山田,花子,ヤマダ,ハナコ,2999/01/01,,,,,,,,2027/03/31,有効",
        f"{second},山田,一郎,ヤマダ,イチロウ,1850/01/01,,,,,,,,2027/03/31,有効",
        f"{third},山田,次郎,ヤマダ,ジロウ,1990/04/01,,,,,,,,2027/03/31,有効",
    ]
    path = tmp_path / "ils.csv"
    path.write_text("\n".join([KASHIWA_HEADER, *rows]) + "\n", encoding="utf-8-sig")
    ran = cardservice(env, "patron", "import", str(path), ok=False)
    assert ran.code == 3, ran  # some rows refused, the others taken
    lines = ran.out.splitlines()
    assert "line 2: the date of birth is in the future (birth_date)" in lines
    assert "line 3: the date of birth is more than 120 years ago (birth_date)" in lines
    assert counts(empty_db)["patrons"] == 1
