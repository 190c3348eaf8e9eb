"""Restart time of every worker of a real pipeline, fresh process against standby spare.

Part of ``python -m bench.supervisor`` (see there). The pipeline of ``--config``
(``configs/host.yaml``) runs as ``python -m demo`` derives it (the demo's microphone is absent:
nobody speaks, the workers idle), twice: every module worker with ``standby: false``, then with
``standby: true`` (the default). Each worker is killed with SIGKILL ``rounds`` times; from the
``sys.lifecycle`` events and the first ``sys.heartbeat`` of the new process (one monotonic clock
on one machine) each restart splits into:

=================  ================================================================================
``exit_seen``      kill -> the supervisor saw the exit (its loop turn)
``backoff``        exit seen -> new process spawned (the first restart delay, ``backoff_initial_s``)
``start``          spawned -> first heartbeat of the new process: interpreter start and imports
                   (none with a spare), the module body, the bus handshake
``load``           first heartbeat -> ready: the worker's own start (its model, its device)
``total``          kill -> ready
``total_no_load``  ``total - load``: what the target (< 0.5 s plus the model's load) is about
=================  ================================================================================

A command worker (the RT app) has no heartbeat: its restart is ``exit_seen + backoff`` (ready =
started).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bus.node import Node
from bus.nodeconfig import BUS_FILE, NodeConfig
from schemas.system import Heartbeat, LifecycleEvent
from supervision.control import ControlClient

__all__ = ["KEYS", "measure_pipeline"]

ROOT = Path(__file__).resolve().parent.parent
KEYS = ("total", "total_no_load", "exit_seen", "backoff", "start", "load")


def _derive(config: Path, out: Path, standby: bool, region: str) -> dict[str, Any]:
    from demo.run import derive_config

    cfg = derive_config(yaml.safe_load(config.read_text()), out, live=False, region=region)
    cfg = copy.deepcopy(cfg)
    for spec in cfg["workers"].values():
        if spec.get("module"):
            spec["standby"] = standby
            # a window shorter than one restart: every kill is a first failure
            spec["restart"] = {"policy": "always", "max_restarts": 1000, "window_s": 0.05}
    return cfg


class _Pipeline:
    """One supervisor on the derived config, and a probe on its bus."""

    def __init__(self, cfg: dict[str, Any], tmp: Path) -> None:
        self.run_dir = tmp / "run"
        (tmp / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEBUS_")}
        env.update(VOICEBUS_RUNTIME_DIR=str(self.run_dir), HF_HUB_OFFLINE="1")
        self.log = (tmp / "supervisor.log").open("wb")
        self.sup = subprocess.Popen(
            [sys.executable, str(ROOT / "supervisor.py"), str(tmp / "config.yaml")],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.client = ControlClient(self.run_dir, timeout_s=10.0)
        self.names = list(cfg["workers"])
        self.modules = {n: w.get("module") for n, w in cfg["workers"].items()}
        self.probe: Node | None = None

    def rows(self) -> dict[str, dict[str, Any]]:
        return {r["name"]: r for r in self.client.call("status")["workers"]}

    def wait(self, cond: Any, what: str, timeout_s: float = 240.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.sup.poll() is not None:
                raise SystemExit(f"the supervisor exited while waiting for {what}")
            try:
                value = cond()
            except Exception:  # the control socket is not there yet
                value = None
            if value:
                return value
            time.sleep(0.05)
        raise SystemExit(f"timed out waiting for {what}")

    def settled(self, standby: bool) -> bool:
        rows = self.rows()
        ready = all(r["state"] == "ready" for r in rows.values())
        spares = all(r["standby_pid"] for n, r in rows.items() if self.modules[n] and standby)
        return ready and spares

    def wait_settled(self, standby: bool, what: str) -> None:
        self.wait(lambda: self.settled(standby), what)

    def join(self) -> Node:
        data = json.loads((self.run_dir / BUS_FILE).read_text())
        self.probe = Node(NodeConfig.parse({**data, "name": "bench-restart"}), signals=False)
        self.probe.subscribe("sys.lifecycle", "sys.heartbeat")
        return self.probe

    def close(self) -> None:
        if self.probe is not None:
            self.probe.close()
        self.sup.send_signal(signal.SIGINT)
        try:
            self.sup.wait(60)
        except subprocess.TimeoutExpired:
            self.sup.kill()
        self.log.close()


def _restart(p: _Pipeline, name: str, timeout_s: float = 180.0) -> dict[str, float]:
    """Kill ``name`` once; the split of its restart, ms."""
    assert p.probe is not None
    while p.probe.poll(0) is not None:
        pass  # what came before the kill
    pid = p.rows()[name]["pid"]
    kill_ns = time.monotonic_ns()
    os.kill(pid, signal.SIGKILL)
    seen: dict[str, int] = {}
    new_pid = 0
    deadline = time.monotonic() + timeout_s
    while "ready" not in seen and time.monotonic() < deadline:
        msg = p.probe.poll(0.05)
        if msg is None:
            continue
        ev = msg.payload
        if isinstance(ev, LifecycleEvent) and ev.worker == name:
            if ev.event == "spawned":
                new_pid = ev.pid
            if ev.event in ("exited", "spawned") or (ev.event == "ready" and "exited" in seen):
                seen.setdefault(ev.event, msg.ts_ns)
        elif isinstance(ev, Heartbeat) and ev.worker == name and new_pid and ev.pid == new_pid:
            seen.setdefault("joined", msg.ts_ns)
    if "ready" not in seen:
        raise SystemExit(f"{name} was not ready again within {timeout_s:.0f} s")
    joined = seen.get("joined", seen["ready"])  # a command: ready when started
    ms = {
        "exit_seen": (seen["exited"] - kill_ns) / 1e6,
        "backoff": (seen["spawned"] - seen["exited"]) / 1e6,
        "start": (joined - seen["spawned"]) / 1e6,
        "load": (seen["ready"] - joined) / 1e6,
        "total": (seen["ready"] - kill_ns) / 1e6,
    }
    ms["total_no_load"] = ms["total"] - ms["load"]
    return ms


def _summary(samples: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(samples)}
    for key in KEYS:
        values = sorted(s[key] for s in samples)
        out[key] = {
            "median": round(statistics.median(values), 1),
            "min": round(values[0], 1),
            "max": round(values[-1], 1),
        }
    return out


def measure_pipeline(config: Path, rounds: int, only: list[str] | None = None) -> dict[str, Any]:
    """Every worker (or ``only`` those) of ``config`` killed ``rounds`` times, fresh then with a
    spare; the split of each restart (ms) and the raw samples."""
    result: dict[str, Any] = {"config": str(config), "rounds": rounds, "modes": {}}
    for mode, standby in (("fresh", False), ("standby", True)):
        tmp = Path(tempfile.mkdtemp(prefix="vbrst-", dir="/tmp"))
        region = f"/dev/shm/voicebus-restart-{os.getpid()}"
        p = _Pipeline(_derive(config, tmp / "out", standby, region), tmp)
        rows: dict[str, Any] = {}
        try:
            p.wait_settled(standby, "every worker ready (and its spare made)")
            p.join()
            for name in p.names:
                if only and name not in only:
                    continue
                if standby and not p.modules[name]:
                    continue  # a command has no spare: measured fresh only
                samples = []
                for _ in range(rounds):
                    samples.append(_restart(p, name))
                    p.wait_settled(standby, f"{name} settled again")
                    time.sleep(0.5)
                rows[name] = {**_summary(samples), "samples": samples}
                print(
                    f"  {mode:7s} {name:8s} kill->ready {rows[name]['total']['median']:7.0f} ms"
                    f"  without load {rows[name]['total_no_load']['median']:6.0f} ms"
                    f"  (load {rows[name]['load']['median']:.0f} ms)",
                    flush=True,
                )
        finally:
            p.close()
            Path(region).unlink(missing_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
        result["modes"][mode] = rows
    return result
