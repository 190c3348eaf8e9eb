"""Launcher of a Python module worker that asked for ``mlockall`` or a ``standby`` process.

    python -m supervision.launch [--mlockall] [--standby] -m workers.asr ARGS...

``--mlockall``: memory locks do not survive ``exec``, so the supervisor cannot lock a worker
from outside; the launcher locks its own memory (current and future pages), then runs the module
as ``__main__`` in the same process.

``--standby``: the launcher imports what the module imports (its top-level ``import`` statements,
read from its source, so the module body itself runs only once, as ``__main__``), then waits for
one JSON line on stdin: environment variables to set (the supervisor sends the worker's current
``VOICEBUS_NODE``). Then it runs the module. A restart then costs neither interpreter start nor
imports. End of stdin without a line means "not needed": it exits 0.
"""

from __future__ import annotations

import ast
import contextlib
import ctypes
import importlib
import importlib.util
import json
import os
import runpy
import sys

_MCL_CURRENT = 1
_MCL_FUTURE = 2


def imports_of(module: str) -> list[str]:
    """Modules imported at the top level of ``module``'s source (absolute names)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return []  # the module itself will fail to run, with the reason
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return []
    if spec.submodule_search_locations is not None:
        # ``python -m package`` runs ``package.__main__``: its imports are the ones to preload.
        if module.endswith(".__main__"):
            return []
        return imports_of(f"{module}.__main__")
    with open(spec.origin, encoding="utf-8") as f:
        tree = ast.parse(f.read(), spec.origin)
    package = module if spec.submodule_search_locations else module.rpartition(".")[0]
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            base = "." * node.level + (node.module or "")
            with contextlib.suppress(ImportError, ValueError):
                names.append(importlib.util.resolve_name(base, package) if node.level else base)
    return names


def _preload(module: str) -> None:
    for name in imports_of(module):
        # A failing import shows up, with its traceback, when the module itself runs.
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def main(argv: list[str]) -> None:
    """Parse ``[--mlockall] [--standby] -m MODULE ARGS...`` and run the module."""
    lock = standby = False
    while argv and argv[0] in ("--mlockall", "--standby"):
        lock, standby = lock or argv[0] == "--mlockall", standby or argv[0] == "--standby"
        argv = argv[1:]
    if len(argv) < 2 or argv[0] != "-m":
        sys.exit("usage: python -m supervision.launch [--mlockall] [--standby] -m MODULE [ARGS]")
    module, args = argv[1], argv[2:]
    if lock:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.mlockall(_MCL_CURRENT | _MCL_FUTURE) != 0:
            err = ctypes.get_errno()
            sys.stderr.write(
                f"voicebus launcher: mlockall failed for {module}: {os.strerror(err)}. Raise "
                "'ulimit -l' or run as root, or set mlockall: false.\n"
            )
            sys.exit(126)
    if standby:
        _preload(module)
        prepared = os.environ.pop("VOICEBUS_PREPARED_FD", "")
        if prepared:  # tell the supervisor: ready to take over (supervision.child.Child.prepared)
            with contextlib.suppress(OSError):
                os.write(int(prepared), b"1")
                os.close(int(prepared))
        line = sys.stdin.readline()
        if not line:
            sys.exit(0)
        os.environ.update(json.loads(line))
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
