"""``cardservice.db.models`` registers every table, so that a command touching one table
in a fresh process (``card revoke`` reads cards, whose foreign key names ``patrons``) never
meets a table it has not heard of (``NoReferencedTableError``). Each check runs in a fresh
interpreter: in this one, other tests have imported whatever they use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_TABLES_OF_THE_REGISTRY = """
import json
import cardservice.db.models
from cardservice.db.base import Base
from sqlalchemy.orm import configure_mappers

configure_mappers()
for table in Base.metadata.tables.values():
    for key in table.foreign_keys:
        key.column  # raises NoReferencedTableError for a table not registered
print(json.dumps(sorted(Base.metadata.tables)))
"""

_TABLES_OF_THE_PACKAGE = """
import importlib, json, pkgutil
import cardservice
from cardservice.db.base import Base

for module in pkgutil.walk_packages(cardservice.__path__, "cardservice."):
    if not module.name.startswith("cardservice.db.migrations"):  # alembic's, run by alembic
        importlib.import_module(module.name)
print(json.dumps(sorted(Base.metadata.tables)))
"""


def _fresh(source: str, env: dict[str, str] | None = None) -> list[str]:
    done = subprocess.run(  # this interpreter, fixed source
        [sys.executable, "-c", source],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    tables: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return tables


def test_the_registry_holds_every_table_the_package_maps() -> None:
    registered = _fresh(_TABLES_OF_THE_REGISTRY)
    assert "patrons" in registered
    assert "cards" in registered
    assert registered == _fresh(_TABLES_OF_THE_PACKAGE)


_TABLES_A_COMMAND_SEES = """
import json
from cardservice.cli.common import run
from cardservice.db.base import Base

async def work(settings):
    return sorted(Base.metadata.tables)

print(json.dumps(run(work)))
"""

_TABLES_THE_SERVICES_SEE = """
import json
import cardservice.services
from cardservice.db.base import Base

print(json.dumps(sorted(Base.metadata.tables)))
"""


def test_a_command_and_the_service_container_see_every_table(tmp_path: Path) -> None:
    # The ways into the database outside the app: every command's run() (staff, API keys,
    # cards, patrons) and Services (card, patron and demo work).
    everything = _fresh(_TABLES_OF_THE_REGISTRY)
    env = {**os.environ, "CARDSERVICE_DATA_DIR": str(tmp_path)}
    assert _fresh(_TABLES_A_COMMAND_SEES, env) == everything
    assert _fresh(_TABLES_THE_SERVICES_SEE) == everything
