"""Run a worker as the supervisor would and check the "cannot run as configured" contract.

The worker must exit 2 (not 1, not restarted), without a traceback, and write one line saying
why to the ``exit_reason_file`` of its node config (the line ``supervisor.py status`` shows).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.bus.conftest import ProxyProc

ROOT = Path(__file__).resolve().parents[2]


def cannot_run(
    module: str,
    settings: dict[str, Any],
    tmp: Path,
    *,
    proxy: ProxyProc | None = None,
    argv: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """Run ``python -m module``; assert exit 2 with a one-line reason; return the reason."""
    name = module.rpartition(".")[2]
    reason_file = tmp / f"{name}.exit"
    # Without a proxy the endpoints lead nowhere: a refusal must come before joining the bus.
    node = {
        "name": name,
        "pub_endpoint": proxy.pub if proxy else f"ipc://{tmp}/nobody-pub",
        "sub_endpoint": proxy.sub if proxy else f"ipc://{tmp}/nobody-sub",
        "handshake_timeout_s": 20,
        "settings": settings,
        "exit_reason_file": str(reason_file),
    }
    full_env = {**os.environ, **(env or {}), "VOICEBUS_NODE": json.dumps(node)}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), full_env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", module, *argv],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd or ROOT,
    )
    assert done.returncode == 2, f"exit {done.returncode}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    reason = reason_file.read_text()
    assert reason.endswith("\n") and reason.count("\n") == 1, reason
    assert f"worker_cannot_run reason={reason.strip()}" in done.stderr
    return reason.strip()
