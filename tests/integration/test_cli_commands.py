"""Every `cardservice` command is tested as an operator runs it: each answers `--help` in a
subprocess, and each has a test that runs its main path through the console script
(``tests.cli_support.cardservice`` or ``serving``). A new command without one fails here."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from cardservice.cli import main
from cardservice.settings import Settings
from tests.cli_support import cardservice, cli_env

TESTS = Path(__file__).resolve().parents[1]
# A call of the console script in a test: cardservice(env, "card", "revoke", …),
# serving(env, "serve", …), a test file's own wrapper of cardservice, run(env, …) or
# fail(env, …), or a server started as a process, [str(COMMAND), "sip2", "serve", …]; the
# leading string literals name the command.
_CALL = re.compile(
    r"(?:\b(?:(?:cardservice|serving)\(\s*\w+|(?:run|fail)\(\s*env)|\[str\(COMMAND\)),\s*"
    r'((?:"[a-z0-9-]+"\s*[,)\]]\s*)+)'
)
_WORD = re.compile(r'"([a-z0-9-]+)"')


def commands(group: click.Group = main, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every runnable command as the words an operator types, e.g. ("card", "revoke")."""
    found: list[tuple[str, ...]] = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


def _called_in_tests() -> set[tuple[str, ...]]:
    called: set[tuple[str, ...]] = set()
    for path in TESTS.rglob("test_*.py"):
        for match in _CALL.finditer(path.read_text(encoding="utf-8")):
            words = tuple(_WORD.findall(match.group(1)))
            called.update(words[:length] for length in (1, 2, 3))
    return called


def test_every_command_runs_in_a_subprocess_test() -> None:
    every = commands()
    assert ("card", "revoke") in every
    assert ("serve",) in every
    missing = [" ".join(words) for words in every if words not in _called_in_tests()]
    assert missing == [], f"commands with no subprocess test: {missing}"


def test_every_command_answers_help(tmp_path: Path) -> None:
    env = {"CARDSERVICE_DATA_DIR": str(tmp_path)}

    def helps(words: tuple[str, ...]) -> tuple[tuple[str, ...], str]:
        return words, cardservice(env, *words, "--help").out

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = dict(pool.map(helps, commands()))
    for words, text in answers.items():
        assert text.startswith(f"Usage: cardservice {' '.join(words)}"), (words, text)
        # Written for the operator: no markup from the docstrings, no Python constant's
        # name (the usage line's arguments and the settings are capitals with underscores).
        described = re.sub(r"CARDSERVICE_[A-Z0-9_]+", "", text.split("\n", 1)[1])
        assert "``" not in described, (words, text)
        assert not re.search(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", described), (words, text)
    assert "reviewer: the application queue" in answers[("staff", "create")]
    assert "--overlap-hours" in answers[("keys", "rotate")]
    assert "--port" in answers[("demo",)]
    assert "--port" in answers[("serve",)]


def test_migrate_and_jobs(empty_db: Settings, data_dir: Path) -> None:
    env = cli_env(empty_db, data_dir)
    assert cardservice(env, "migrate").out == "database is up to date\n"
    jobs = cardservice(env, "jobs").out
    assert "ID images deleted: 0" in jobs
    assert "expiry reminders queued: 0" in jobs
