"""What is executed for a worker: its command line, environment and working directory.

A Python module runs as ``python -m MODULE`` (through :mod:`supervision.launch` when it asks
for ``mlockall`` or a ``standby`` spare), any other program as itself. Every worker gets its
whole configuration in ``VOICEBUS_NODE`` (name, endpoints, settings), the runtime directory,
the project on ``PYTHONPATH``, the file for its one-line exit reason
(:data:`supervision.exitcodes.ENV_REASON_FILE`, and ``exit_reason_file`` in ``VOICEBUS_NODE``)
and the file for the state it keeps across its restarts (:mod:`supervision.statefiles`).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from bus.nodeconfig import ENV_NODE, NodeConfig
from bus.runtime import ENV_RUNTIME_DIR
from supervision.buslayout import BusLayout
from supervision.child import Launch
from supervision.config import PROJECT_ROOT, WorkerSpec, resolve_path
from supervision.exitcodes import ENV_REASON_FILE
from supervision.statefiles import ENV_STATE_FILE, STATE_DIR, state_file

__all__ = ["REASONS_DIR", "launch_for", "node_json", "reason_file"]

#: Folder of the runtime directory holding one reason file per worker.
REASONS_DIR = "reasons"
#: The same path in ``VOICEBUS_NODE``, for a bus node (``bus.NodeConfig.exit_reason_file`` of
#: the worker API); ``$VOICEBUS_REASON_FILE`` serves any executable.
_NODE_REASON_FIELD = "exit_reason_file"


def reason_file(layout: BusLayout, name: str) -> Path:
    """Where worker ``name`` writes why it exited (see :mod:`supervision.exitcodes`)."""
    return layout.runtime_dir / REASONS_DIR / name


def node_json(
    name: str, spec: WorkerSpec, layout: BusLayout, heartbeat_ms: int, restarts: int
) -> str:
    """The ``VOICEBUS_NODE`` of one start of the worker (with its reason file, where the node
    config has the worker API's ``exit_reason_file`` field)."""
    node = layout.node_config(
        name,
        heartbeat_ms,
        restarts=restarts,
        settings=spec.settings,
        log_level=spec.log_level,
    )
    if _NODE_REASON_FIELD in NodeConfig.model_fields:
        node = node.model_copy(update={_NODE_REASON_FIELD: reason_file(layout, name)})
    return node.model_dump_json()


def launch_for(
    name: str,
    spec: WorkerSpec,
    cpus: tuple[int, ...] | None,
    layout: BusLayout,
    heartbeat_ms: int,
    restarts: int,
) -> Launch:
    """Everything needed to start the worker once (raises ``OSError`` if its program is missing)."""
    env = dict(os.environ)
    env.update(spec.env)
    env[ENV_NODE] = node_json(name, spec, layout, heartbeat_ms, restarts)
    env[ENV_RUNTIME_DIR] = str(layout.runtime_dir)
    reasons = reason_file(layout, name)
    reasons.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    env[ENV_REASON_FILE] = str(reasons)
    (layout.runtime_dir / STATE_DIR).mkdir(mode=0o700, exist_ok=True)
    env[ENV_STATE_FILE] = str(state_file(layout.runtime_dir, name))
    env["PYTHONUNBUFFERED"] = "1"
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = f"{PROJECT_ROOT}{os.pathsep}{path}" if path else str(PROJECT_ROOT)
    if spec.module is not None:
        flags = [
            f for f, on in (("--mlockall", spec.mlockall), ("--standby", spec.uses_standby)) if on
        ]
        launcher = ["-m", "supervision.launch", *flags] if flags else []
        argv = [sys.executable, *launcher, "-m", spec.module, *spec.args]
    else:
        assert spec.command is not None
        argv = [_find_program(spec.command), *spec.args]
        if spec.mlockall:
            env["VOICEBUS_MLOCKALL"] = "1"
    return Launch(
        argv=tuple(argv),
        env=env,
        cwd=resolve_path(spec.cwd) if spec.cwd is not None else PROJECT_ROOT,
        cpus=cpus,
        nice=spec.nice,
        sched_fifo=spec.sched_fifo,
        standby=spec.uses_standby and spec.module is not None,
    )


def _find_program(command: str) -> str:
    if "/" in command:
        path = resolve_path(Path(command))
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist (build it, or fix 'command')")
        return str(path)
    found = shutil.which(command)
    if found is None:
        raise FileNotFoundError(f"{command!r} is not on PATH")
    return found
