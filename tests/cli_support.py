"""Running the ``cardservice`` command as an operator does: the installed console script in a
subprocess, configured only by its environment."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from cardservice.settings import Settings

COMMAND = Path(sys.executable).with_name("cardservice")


@dataclass(frozen=True, slots=True)
class Ran:
    code: int
    out: str
    err: str


def cli_env(settings: Settings, data_dir: Path) -> dict[str, str]:
    """The environment of a shell where the service is configured like ``settings``."""
    return {
        "CARDSERVICE_DATA_DIR": str(data_dir),
        "CARDSERVICE_DATABASE_URL": settings.database_url,
        "CARDSERVICE_BASE_URL": settings.base_url,
        "CARDSERVICE_PROFILE": settings.profile.id,
    }


def cardservice(env: dict[str, str], *args: str, ok: bool = True) -> Ran:
    """Run ``cardservice ARGS``; with ``ok`` it must succeed, without it it must fail."""
    done = subprocess.run(  # our own console script, fixed arguments
        [str(COMMAND), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    ran = Ran(done.returncode, done.stdout, done.stderr)
    if ok:
        assert ran.code == 0, f"{args}: {ran.out}{ran.err}"
    else:
        assert ran.code != 0, f"{args} should have failed: {ran.out}"
    return ran
