"""Workers and examples use only the public worker API, and no worker reaches into another.

An AST scan of every import under ``workers/`` and ``examples/``:

- nothing imports a module inside ``bus`` (``bus.nodecore``, ``bus.framing``, ...): the names a
  worker needs are in ``bus.__all__`` (pinned by ``tests/bus/test_public_api.py``);
- ``from bus import X`` names only what ``bus.__all__`` lists;
- a worker imports no other worker's modules (shared code lives in ``audio/``, ``text/``,
  ``schemas/``), and an example no worker's: ``workers.runner`` is the one shared entry.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bus

ROOT = Path(__file__).resolve().parents[2]
SHARED = {"workers", "workers.runner"}


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """``(line, module, names)`` of every import in ``path`` (relative ones resolved)."""
    tree = ast.parse(path.read_text(), str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{module}" if module else base
            out.append((node.lineno, module, [a.name for a in node.names]))
    return out


def _sources() -> list[Path]:
    return sorted(p for d in ("workers", "examples") for p in (ROOT / d).rglob("*.py"))


def _owner(path: Path) -> str | None:
    """``workers.<name>`` for a file of a worker package, else None."""
    parts = path.relative_to(ROOT).parts
    return f"workers.{parts[1]}" if parts[0] == "workers" and len(parts) > 2 else None


def problems(path: Path) -> list[str]:
    """Every import of ``path`` that breaks the rules above, as ``file:line: why``."""
    where = path.relative_to(ROOT)
    owner = _owner(path)
    found = []
    for line, module, names in _imports(path):
        top = module.split(".")
        if top[0] == "bus" and len(top) > 1:
            found.append(f"{where}:{line}: imports {module}, a module inside bus; use `from bus`")
        elif module == "bus":
            hidden = [n for n in names if n not in bus.__all__]
            if hidden:
                found.append(f"{where}:{line}: `from bus import {', '.join(hidden)}` (not public)")
        elif top[0] == "workers" and module not in SHARED:
            mine = owner is not None and (module == owner or module.startswith(owner + "."))
            if not mine:
                found.append(f"{where}:{line}: imports {module}, another worker's module")
    return found


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_keep_to_the_public_api_and_to_the_worker_s_own_package(path: Path) -> None:
    assert problems(path) == []


def test_the_scan_finds_a_private_bus_import_and_a_neighbour_s_module(tmp_path: Path) -> None:
    fake = ROOT / "workers" / "dialog" / "_scan_probe.py"
    fake.write_text(
        "from bus.nodecore import NodeCore\n"
        "import bus.framing\n"
        "from bus import Node, memory\n"
        "from workers.llm.engine import Generation\n"
        "from . import turn\n"
        "from workers.runner import run_worker\n"
    )
    try:
        found = problems(fake)
    finally:
        fake.unlink()
    assert [f.split(": ", 1)[1] for f in found] == [
        "imports bus.nodecore, a module inside bus; use `from bus`",
        "imports bus.framing, a module inside bus; use `from bus`",
        "`from bus import memory` (not public)",
        "imports workers.llm.engine, another worker's module",
    ]
