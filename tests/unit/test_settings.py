"""Settings from the environment and library profiles: good values load, bad ones name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from cardservice.cards.service import CardPolicy
from cardservice.errors import ConfigurationError
from cardservice.profiles import SHIPPED, load_profile, parse_profile
from cardservice.settings import Settings

EXAMPLE = (Path(__file__).parents[2] / "cardservice/profiles/example.toml").read_text()


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profiles_load_and_make_a_card_policy(name: str) -> None:
    profile = load_profile(name)
    assert profile.id == name
    policy = CardPolicy.of(profile)
    assert policy.number_format.length == profile.number.length


def test_yokohama_profile_has_the_published_rules() -> None:
    profile = load_profile("yokohama")
    assert (profile.password.policy, profile.password.min_length) == ("composition", 8)
    assert profile.password.max_length == 15
    assert profile.password.symbols == "-/@.+*_#!?%"
    assert profile.documents.max_files == 2
    assert profile.documents.max_bytes == 3_000_000
    assert set(profile.documents.formats) == {"gif", "jpeg", "png"}
    assert profile.review.deadline_opening_days == 3
    assert profile.library.resident_municipalities == ["横浜市"]
    assert "川崎市" in profile.library.counter_municipalities
    my_number = next(t for t in profile.documents.types if t.id == "my_number")
    assert my_number.sides == "front"


def test_kashiwa_profile_has_the_published_rules() -> None:
    profile = load_profile("kashiwa")
    assert set(profile.library.resident_municipalities) == {
        "柏市", "松戸市", "流山市", "野田市", "我孫子市", "印西市", "白井市", "鎌ケ谷市",
    }  # fmt: skip
    assert profile.review.deadline_opening_days == 2
    assert profile.library.sender_email == "toshokan-smart@city.kashiwa.chiba.jp"
    insurance = next(t for t in profile.documents.types if t.id == "health_insurance")
    assert insurance.sides == "both"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (("validity_years = 3", 'validity_years = "three"'), "card.validity_years"),
        (("validity_years = 3", "validity_years = 99"), "card.validity_years"),
        (('check_digit = "luhn"', 'check_digit = "crc32"'), "number.check_digit"),
        (('start = "A"', 'start = "Z"'), "barcode.start"),
        (("renewal_window_days = 30", "renewal_window_days = 30\ncolour = 1"), "card.colour"),
        (("deadline_opening_days = 3", ""), "review.deadline_opening_days"),
        (("closed_weekdays = [0]", "closed_weekdays = [7]"), "calendar.closed_weekdays"),
        (("max_files = 2", "max_files = 0"), "documents.max_files"),
    ],
)
def test_bad_profile_value_names_the_key(change: tuple[str, str], key: str) -> None:
    old, new = change
    assert old in EXAMPLE
    with pytest.raises(ConfigurationError) as caught:
        parse_profile(EXAMPLE.replace(old, new, 1))
    assert key in str(caught.value)


def test_cross_field_rule_names_the_keys() -> None:
    bad = EXAMPLE.replace("max_length = 64", "max_length = 9").replace(
        "min_length = 8", "min_length = 12"
    )
    with pytest.raises(ConfigurationError) as caught:
        parse_profile(bad)
    assert "password.min_length" in str(caught.value)


def test_profile_from_a_file_and_a_missing_file(tmp_path: Path) -> None:
    own = tmp_path / "mine.toml"
    own.write_text(EXAMPLE.replace('id = "example"', 'id = "mine"'))
    assert load_profile(str(own)).id == "mine"
    with pytest.raises(ConfigurationError) as caught:
        load_profile(str(tmp_path / "absent.toml"))
    assert caught.value.key == "CARDSERVICE_PROFILE"


def test_settings_defaults_and_environment(tmp_path: Path) -> None:
    settings = Settings.from_env({"CARDSERVICE_DATA_DIR": str(tmp_path)})
    assert settings.mode == "dev"
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path}/cardservice.db"
    assert settings.profile.id == "example"
    env = {
        "CARDSERVICE_DATA_DIR": str(tmp_path),
        "CARDSERVICE_PROFILE": "kashiwa",
        "CARDSERVICE_DATABASE_URL": "postgresql://u@h/db",
        "CARDSERVICE_BASE_URL": "https://cards.example.org/",
        "CARDSERVICE_WORKERS": "2",
    }
    settings = Settings.from_env(env)
    assert settings.profile.id == "kashiwa"
    assert settings.async_database_url == "postgresql+asyncpg://u@h/db"
    assert settings.issuer == "https://cards.example.org"
    assert settings.workers == 2


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"CARDSERVICE_MODE": "staging"}, "CARDSERVICE_MODE"),
        ({"CARDSERVICE_PORT": "eighty"}, "CARDSERVICE_PORT"),
        ({"CARDSERVICE_DATABASE_URL": "mysql://x/y"}, "CARDSERVICE_DATABASE_URL"),
        ({"CARDSERVICE_BASE_URL": "cards.example.org"}, "CARDSERVICE_BASE_URL"),
        ({"CARDSERVICE_PROFILE": "atlantis"}, "CARDSERVICE_PROFILE"),
        ({"CARDSERVICE_WORKERS": "0"}, "CARDSERVICE_WORKERS"),
        (
            {"CARDSERVICE_MODE": "production", "CARDSERVICE_BASE_URL": "http://x.org"},
            "CARDSERVICE_BASE_URL",
        ),
        (
            {"CARDSERVICE_MODE": "production", "CARDSERVICE_BASE_URL": "https://x.org"},
            "CARDSERVICE_SMTP_URL",
        ),
    ],
)
def test_bad_environment_names_the_variable(tmp_path: Path, env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({"CARDSERVICE_DATA_DIR": str(tmp_path), **env})
    assert caught.value.key == key


# Every numeric setting, past each end of its range and far past it (a number that would
# overflow a date or a timer), is refused naming its variable, never accepted or crashed on.
NUMERIC_BOUNDS = {
    "PORT": ("0", "65536"),
    "WORKERS": ("0", "65"),
    "MAIL_CATCHER_PORT": ("-1", "65536"),
    "KEY_OVERLAP_HOURS": ("-1", "8761"),
    "DB_POOL_SIZE": ("0", "1001"),
    "DB_MAX_OVERFLOW": ("-1", "1001"),
    "DB_POOL_TIMEOUT": ("0", "3601"),
    "API_KEY_RECHECK_SECONDS": ("-1", "301"),
}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (name, value)
        for name, (low, high) in NUMERIC_BOUNDS.items()
        for value in (low, high, "99999999999999999999", "9" * 5000)
    ]
    + [("DB_POOL_TIMEOUT", "inf"), ("DB_POOL_TIMEOUT", "nan"), ("DB_POOL_TIMEOUT", "1e999")],
)
def test_numeric_settings_out_of_range_are_refused(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({"CARDSERVICE_DATA_DIR": str(tmp_path), f"CARDSERVICE_{name}": value})
    assert caught.value.key == f"CARDSERVICE_{name}"
    assert "\n" not in str(caught.value)


def test_numeric_settings_at_their_bounds_are_taken(tmp_path: Path) -> None:
    env = {"CARDSERVICE_DATA_DIR": str(tmp_path)}
    env |= {f"CARDSERVICE_{name}": high for name, (_, high) in NUMERIC_BOUNDS.items()}
    # One below each high end (the ranges are closed), ports given their own top.
    env |= {
        key: str(int(float(value)) - 1)
        for key, value in env.items()
        if key != "CARDSERVICE_DATA_DIR"
    }
    settings = Settings.from_env(env)
    assert settings.key_overlap_hours == 8760
    assert settings.db_pool_size == 1000
    assert settings.db_pool_timeout == 3600


def test_sender_address_goes_through_the_address_rule() -> None:
    line = next(row for row in EXAMPLE.splitlines() if row.startswith("sender_email"))
    idn = parse_profile(EXAMPLE.replace(line, 'sender_email = "Toshokan@例え.jp"', 1))
    assert idn.library.sender_email == "toshokan@xn--r8jz45g.jp"
    with pytest.raises(ConfigurationError) as caught:
        parse_profile(EXAMPLE.replace(line, 'sender_email = "toshokan@-bad-.jp"', 1))
    assert "library.sender_email" in str(caught.value)
