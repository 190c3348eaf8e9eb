"""The launcher: what a standby process pre-imports, and the hand-over line on stdin."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from supervision.child import Child, Launch
from supervision.launch import imports_of

ROOT = Path(__file__).resolve().parents[2]


def test_standby_preloads_the_imports_of_a_module_not_the_module() -> None:
    names = imports_of("workers.echo.__main__")
    assert {"bus", "workers.runner", "workers.echo.counter"} <= set(names)
    assert "__future__" not in names and "workers.echo.__main__" not in names
    assert imports_of("no.such.module") == []


def test_standby_of_a_package_preloads_what_its_main_imports() -> None:
    # ``python -m workers.echo`` runs workers/echo/__main__.py; its __init__.py imports nothing.
    names = imports_of("workers.echo")
    assert "workers.echo.counter" in names and "workers.echo" not in names


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    pkg = tmp_path / "vbpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "helper.py").write_text("")
    (pkg / "w.py").write_text("from . import helper\nfrom .helper import x\nimport json\n")
    sys.path.insert(0, str(tmp_path))
    try:
        assert imports_of("vbpkg.w") == ["vbpkg", "vbpkg.helper", "json"]
    finally:
        sys.path.remove(str(tmp_path))


def test_a_standby_process_runs_only_after_go_with_the_environment_it_was_given() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = (sys.executable, "-m", "supervision.launch", "--standby", "-m", "json.tool", "-h")
    # json.tool -h exits 0 after printing help; here it must first wait for the line.
    child = Child(Launch(argv, env, ROOT, standby=True))
    deadline = time.monotonic() + 20
    while not child.prepared:  # its imports done, it says so
        assert time.monotonic() < deadline and child.poll() is None
        time.sleep(0.01)
    assert child.wait(0.5) is None  # waiting
    child.go({"VOICEBUS_TEST": "1"})
    assert child.wait(20) == 0


def test_a_standby_process_not_needed_exits_cleanly() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = (sys.executable, "-m", "supervision.launch", "--standby", "-m", "json.tool")
    child = Child(Launch(argv, env, ROOT, standby=True))
    assert child._proc.stdin is not None
    child._proc.stdin.close()
    assert child.wait(20) == 0
