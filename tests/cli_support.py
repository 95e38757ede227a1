"""Running the ``cardservice`` command as an operator does: the installed console script in a
subprocess, configured only by its environment; and the server it starts, until the test
ends (:func:`serving`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cardservice.settings import Settings

COMMAND = Path(sys.executable).with_name("cardservice")
START_TIMEOUT = 60  # seconds for a server to answer /health on a loaded machine


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


def cardservice(env: dict[str, str], *args: str, ok: bool = True, stdin: str | None = None) -> Ran:
    """Run ``cardservice ARGS``; with ``ok`` it must succeed, without it it must fail."""
    done = subprocess.run(  # our own console script, fixed arguments
        [str(COMMAND), *args],
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        # No controlling terminal, as under cron: a hidden prompt reads standard input.
        start_new_session=True,
    )
    ran = Ran(done.returncode, done.stdout, done.stderr)
    if ok:
        assert ran.code == 0, f"{args}: {ran.out}{ran.err}"
    else:
        assert ran.code != 0, f"{args} should have failed: {ran.out}"
    return ran


def free_port() -> int:
    """A TCP port nobody listens on just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(url: str, *, timeout: float = 10) -> tuple[int, bytes]:
    """One GET on a new connection (so the kernel may hand it to any worker)."""
    request = urllib.request.Request(url, headers={"Connection": "close"})  # noqa: S310  # loopback
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@dataclass(frozen=True, slots=True)
class Server:
    url: str  # http://127.0.0.1:PORT, where it listens
    process: subprocess.Popen[str]
    log: Path  # its standard output and error


@contextmanager
def serving(env: dict[str, str], *args: str, port: int | None = None) -> Iterator[Server]:
    """``cardservice ARGS`` (``serve`` or ``demo`` and options) listening on ``port`` (a free
    one if None, passed as ``--port``), once it answers ``/health``; stopped with SIGTERM at
    the end. Its output goes to a log file next to the data directory."""
    port = port or free_port()
    data_dir = Path(env["CARDSERVICE_DATA_DIR"])
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"server-{port}.log"
    with log.open("w") as output:
        process = subprocess.Popen(  # our own console script, fixed arguments
            [str(COMMAND), *args, "--port", str(port)],
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},  # the log as it happens
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, f"the server exited:\n{log.read_text()}"
            try:
                if get(f"{server.url}/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"the server did not start:\n{log.read_text()}"
            time.sleep(0.2)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
