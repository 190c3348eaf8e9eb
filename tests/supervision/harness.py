"""A real supervisor process for tests: config in a temporary directory, log captured.

with SupervisorProc(tmp, {"workers": {...}}) as sup:
    sup.wait_state("echo", "ready")
    probe = sup.node("probe")
    ...
# leaving the block sends SIGINT and checks that no process and no socket file is left
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import yaml

import schemas  # noqa: F401  (registers every core topic)
from bus.node import Node
from bus.nodeconfig import BUS_FILE, NodeConfig
from schemas.registry import CORE_PREFIXES, registry
from supervision.control import ControlClient

ROOT = Path(__file__).resolve().parents[2]


def short_tmp() -> Path:
    """A short temporary directory (ipc socket paths are limited to about 100 bytes)."""
    return Path(tempfile.mkdtemp(prefix="vbsv-", dir="/tmp"))


#: The test itself, on the bus through :meth:`SupervisorProc.node`: it may publish any core
#: topic and reads any. Added as ``external.test`` to a config given as a dict without its own
#: ``external:`` (a config given as text is used as it is).
THE_TEST = {
    "kind": "source",
    "summary": "The test, on the bus through SupervisorProc.node.",
    "produces": sorted(t for t, _ in registry if t.startswith(CORE_PREFIXES)),
    "consumes": ["*"],
}


class SupervisorProc:
    """``python supervisor.py CONFIG`` with a private runtime directory."""

    def __init__(
        self, config: dict[str, Any] | str, tmp: Path | None = None, *, exit_code: int = 0
    ) -> None:
        self.exit_code = exit_code
        """The supervisor's exit status expected when the ``with`` block stops it."""
        self.tmp = tmp or short_tmp()
        self._own_tmp = tmp is None
        self.run_dir = self.tmp / "run"
        self.config_path = self.tmp / "config.yaml"
        if isinstance(config, dict) and "external" not in config:
            config = {**config, "external": {"test": THE_TEST}}
        text = yaml.safe_dump(config) if isinstance(config, dict) else config
        self.config_path.write_text(text)
        self.log_path = self.tmp / "supervisor.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEBUS_")}
        self.env["VOICEBUS_RUNTIME_DIR"] = str(self.run_dir)
        self.env["PYTHONPATH"] = str(ROOT)
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = ControlClient(self.run_dir, timeout_s=10.0)
        self._nodes: list[Node] = []

    # --- life ------------------------------------------------------------------------------

    def start(self, wait: bool = True) -> SupervisorProc:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "supervisor.py"), str(self.config_path)],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait(lambda: (self.run_dir / "control").exists(), "the control socket", 30)
        return self

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 30.0) -> int:
        """Signal the supervisor, wait, check nothing is left behind; return its exit status."""
        assert self.proc is not None
        for node in self._nodes:
            node.close()
        self._nodes.clear()
        descendants = self.descendants()
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired as exc:
            self.kill_all()
            raise AssertionError(f"supervisor did not stop in {timeout_s} s\n{self.log()}") from exc
        alive = [p for p in descendants if _alive(p)]
        for p in alive:
            p.kill()
        assert not alive, f"stray processes after stop: {alive}\n{self.log()}"
        left = sorted(p.name for p in self.run_dir.iterdir()) if self.run_dir.exists() else []
        assert not left, f"files left in the runtime directory: {left}\n{self.log()}"
        return code

    def kill_all(self) -> None:
        if self.proc is None:
            return
        for p in self.descendants():
            if _alive(p):
                p.kill()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def descendants(self) -> list[psutil.Process]:
        assert self.proc is not None
        try:
            return list(psutil.Process(self.proc.pid).children(recursive=True))
        except psutil.NoSuchProcess:
            return []

    def __enter__(self) -> SupervisorProc:
        return self.start()

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            if self.proc is not None and self.proc.poll() is None:
                if exc_type is None:
                    assert self.stop() == self.exit_code, self.log()
                else:
                    self.kill_all()
        finally:
            if self._own_tmp:
                shutil.rmtree(self.tmp, ignore_errors=True)

    # --- looking -----------------------------------------------------------------------------

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_events(self, event: str) -> list[str]:
        """Worker names of ``worker_<event>`` log lines, in order."""
        out = []
        for line in self.log().splitlines():
            if f" worker_{event} " in line:
                out.append(line.split(" name=", 1)[1].split()[0])
        return out

    def status(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.client.call("status")["workers"]
        return rows

    def row(self, name: str) -> dict[str, Any]:
        return next(r for r in self.status() if r["name"] == name)

    def wait(self, cond: Callable[[], Any], what: str, timeout_s: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"supervisor exited while waiting for {what}\n{self.log()}")
            value = cond()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}\n{self.status()}\n{self.log()}")

    def wait_state(self, name: str, state: str, timeout_s: float = 30.0) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            row = self.row(name)
            return row if row["state"] == state else None

        result: dict[str, Any] = self.wait(check, f"{name} to be {state}", timeout_s)
        return result

    def node(self, name: str) -> Node:
        """A node of the test joined to this supervisor's bus (closed at stop)."""
        data = json.loads((self.run_dir / BUS_FILE).read_text())
        node = Node(NodeConfig.parse({**data, "name": name}), signals=False)
        self._nodes.append(node)
        return node

    def cli(self, *args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
        """``python supervisor.py ARGS`` against this supervisor."""
        return subprocess.run(
            [sys.executable, str(ROOT / "supervisor.py"), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


#: The package of the supervisor's test workers; their manifests are in its ``manifests`` module.
TEST_WORKERS = "tests.supervision.workers"
#: ``external:`` of a config whose test publishes transcripts itself (for ``relay``).
PROBE = {"probe": {"kind": "source", "summary": "The test itself.", "produces": ["asr.text"]}}


def worker(module: str, **spec: Any) -> dict[str, Any]:
    """A worker spec for a test config. A supervisor test worker gets its manifest named; any
    other test module without one is declared as a stage with no declared topics."""
    if module.startswith(TEST_WORKERS + "."):
        name = module.rpartition(".")[2].upper()
        spec = {"manifest": f"{TEST_WORKERS}.manifests:{name}", **spec}
    elif module.startswith("tests."):
        spec = {"manifest": {"kind": "stage", "summary": f"test worker {module}"}, **spec}
    return {"module": module, **spec}
