"""A serving worker's app (``cardservice serve``, ``app.serve_app``) freezes what it made at
start out of the garbage collector; an app made by ``create_app`` alone (the tests') does not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cardservice.settings import Settings
from tests.cli_support import cli_env

# Started in its own process: gc.freeze is process-wide, and this one makes app after app.
PROBE = """
import gc, json
from litestar.testing import TestClient
from cardservice import app as factory
counts = {}
makers = {"create_app": lambda: factory.create_app(mail=False), "serve_app": factory.serve_app}
for name, make in makers.items():
    with TestClient(make()) as client:
        assert client.get("/health").status_code == 200
        counts[name] = gc.get_freeze_count()
print(json.dumps(counts))
"""


def test_a_serving_worker_freezes_what_it_made_at_start(settings: Settings, tmp_path: Path) -> None:
    env = {**os.environ, **cli_env(settings, tmp_path)}
    env["CARDSERVICE_MAIL_CATCHER_PORT"] = "0"
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["create_app"] == 0
    # The app, its routes, templates and models: tens of thousands of objects at least.
    assert counts["serve_app"] > 10_000
