"""The base URL follows the address the server listens on unless CARDSERVICE_BASE_URL is set,
so a second instance on another port links to itself, not to port 8000."""

from __future__ import annotations

from pathlib import Path

import pytest

from cardservice.errors import ConfigurationError
from cardservice.settings import Settings


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"CARDSERVICE_PORT": "8101"}, "http://127.0.0.1:8101"),
        ({"CARDSERVICE_HOST": "0.0.0.0", "CARDSERVICE_PORT": "8101"}, "http://127.0.0.1:8101"),  # noqa: S104
        ({"CARDSERVICE_HOST": "::", "CARDSERVICE_PORT": "8102"}, "http://[::1]:8102"),
        ({"CARDSERVICE_HOST": "::1"}, "http://[::1]:8000"),
        (
            {"CARDSERVICE_HOST": "cards.local", "CARDSERVICE_PORT": "9000"},
            "http://cards.local:9000",
        ),
        ({"CARDSERVICE_PORT": "8101", "CARDSERVICE_BASE_URL": ""}, "http://127.0.0.1:8101"),
        (
            {"CARDSERVICE_PORT": "8101", "CARDSERVICE_BASE_URL": "https://cards.example.org/"},
            "https://cards.example.org",
        ),
    ],
)
def test_base_url_follows_host_and_port(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    settings = Settings.from_env({"CARDSERVICE_DATA_DIR": str(tmp_path), **env})
    assert settings.base_url == expected
    assert settings.issuer == expected  # the token's issuer too, unless set on its own


def test_a_port_given_as_an_override_moves_the_base_url(tmp_path: Path) -> None:
    settings = Settings.from_env({"CARDSERVICE_DATA_DIR": str(tmp_path)}, port=8101)
    assert settings.base_url == "http://127.0.0.1:8101"


@pytest.mark.parametrize(
    ("name", "value"),
    [("PORT", "0"), ("PORT", "65536"), ("MAIL_CATCHER_PORT", "-1"), ("MAIL_CATCHER_PORT", "70000")],
)
def test_ports_out_of_range_are_refused(tmp_path: Path, name: str, value: str) -> None:
    env = {"CARDSERVICE_DATA_DIR": str(tmp_path), f"CARDSERVICE_{name}": value}
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env(env)
    assert refused.value.key == f"CARDSERVICE_{name}"
