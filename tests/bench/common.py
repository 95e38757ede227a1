"""What the benchmarks share: the server they start, the pages' hidden fields, the form.

The benchmarks run as scripts (``.venv/bin/python tests/bench/<name>.py``), so this module is
imported as ``common`` from the script's own folder. It puts the checkout's root on
``sys.path`` so that the application form is the one the registration tests vary
(``tests/unit/registration/samples.py``), not a copy of it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)

from tests.unit.registration.samples import VALID_RAW  # noqa: E402  # needs _ROOT on the path

CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')
VERSION = re.compile(r'name="version" value="([^"]+)"')
LINK = re.compile(r"/apply/verify/([A-Za-z0-9_-]+)")


def application_form(password: str, **extra: str) -> dict[str, str]:
    """The application form of a Yokohama resident as a browser posts it (field name to
    value, without the CSRF token), with ``password`` and any ``extra`` fields."""
    return {**VALID_RAW, "password": password, **extra}


def csrf_token(page: str) -> str:
    """The CSRF token in the hidden field of ``page`` (HTML); SystemExit, with the start of
    the page, where there is none."""
    found = CSRF.search(page)
    if found is None:
        raise SystemExit(f"no CSRF token on the page:\n{page[:2000]}")
    return found.group(1)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (as the kernel hands one out)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_env(tmp: str, port: int, workers: int = 1, **extra: str) -> dict[str, str]:
    """The environment of ``cardservice serve`` for a benchmark: this process's environment,
    the data directory ``tmp``, ``port`` on 127.0.0.1, ``workers`` processes, WARNING logs,
    and ``extra`` variables (full names, e.g. ``CARDSERVICE_DATABASE_URL``)."""
    return {
        **os.environ,
        "CARDSERVICE_DATA_DIR": tmp,
        "CARDSERVICE_PORT": str(port),
        "CARDSERVICE_WORKERS": str(workers),
        "CARDSERVICE_LOG_LEVEL": "WARNING",
        **extra,
    }


def wait_ready(url: str, timeout: float = 30) -> None:
    """Polls ``url`` every 0.2 s until it answers 200; SystemExit after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310  # loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server did not become ready at {url}")


@contextmanager
def serving(
    env: dict[str, str],
    *,
    ready_timeout: float = 30,
    stop_timeout: float = 30,
    quiet: bool = True,
) -> Iterator[subprocess.Popen[bytes]]:
    """``cardservice serve --no-migrate`` (the database is migrated already) with ``env``,
    on the port ``CARDSERVICE_PORT`` names, yielded once its ``/ready`` answers 200 (within
    ``ready_timeout`` seconds); terminated at the end, waiting up to ``stop_timeout``
    seconds. Its output goes nowhere, but for its stderr where ``quiet`` is false."""
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "cardservice"), "serve", "--no-migrate"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if quiet else None,
    )
    try:
        wait_ready(f"http://127.0.0.1:{env['CARDSERVICE_PORT']}/ready", ready_timeout)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=stop_timeout)


def cpu_seconds(root: int) -> float:
    """User+system CPU seconds of the process ``root`` and its children, from /proc."""
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
