"""`serve` and `demo` read the outgoing mail setting before any worker starts: a malformed
CARDSERVICE_SMTP_URL ends the command with one line naming it, exit status 1, and nothing
made, rather than a traceback from the start of every worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_support import cardservice, free_port


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mail.example.org", "use smtp://user:pass@host:port or smtps://"),
        ("smtp://mail.example.org:submission", "the port must be a number"),
        ("smtp://mail.example.org?starttls=maybe", "starttls must be 1 or 0, not 'maybe'"),
    ],
)
@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_malformed_smtp_url_stops_the_start(
    tmp_path: Path, command: str, url: str, problem: str
) -> None:
    data = tmp_path / "data"
    env = {"CARDSERVICE_DATA_DIR": str(data), "CARDSERVICE_SMTP_URL": url}
    ran = cardservice(env, command, "--port", str(free_port()), ok=False)
    assert ran.code == 1, ran
    assert ran.err == f"Error: configuration: CARDSERVICE_SMTP_URL: {problem}\n", ran.err
    assert not data.exists()  # refused before the database was made
