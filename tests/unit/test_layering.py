"""Domain code never imports litestar (ARCHITECTURE.md, "Layout"): only the web edge does.

The edge is ``cardservice/web/``, ``app.py`` and the page and API modules (``routes.py``,
``*_routes.py`` and ``routes/`` packages). Everything else (the domains, the CLI, the jobs,
the offline verifier) must work without the web framework, so that the CLI, the jobs and a
scanner reuse it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "cardservice"


def _is_edge(path: Path) -> bool:
    relative = path.relative_to(PACKAGE)
    parts = relative.parts
    return (
        parts[0] in {"web", "app.py"}
        or any(part == "routes" or part.endswith("_routes") for part in parts[:-1])
        or relative.stem == "routes"
        or relative.stem.endswith("_routes")
    )


def _domain_modules() -> list[str]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if _is_edge(path) or "migrations" in path.parts:
            continue
        dotted = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        modules.append(dotted.removesuffix(".__init__"))
    return modules


def test_no_domain_module_names_the_web_edge() -> None:
    offenders = []
    for module in _domain_modules():
        path = PACKAGE.parent / (module.replace(".", "/") + ".py")
        if not path.exists():
            path = PACKAGE.parent / module.replace(".", "/") / "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{module} imports {name}"
                for name in names
                if name.split(".")[0] == "litestar" or name.startswith("cardservice.web")
            ]
    assert offenders == []


def test_no_domain_module_loads_litestar_even_indirectly() -> None:
    # A fresh interpreter imports every domain module in turn and names the first after
    # which litestar is loaded.
    script = (
        "import importlib, sys\n"
        f"for name in {_domain_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "    if 'litestar' in sys.modules:\n"
        "        print(name); break\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert found.stdout.strip() == ""
