"""Benchmark of the supervisor: how long a worker killed with SIGKILL takes to be ready again.

    python -m bench.supervisor                       # echo, then every worker of host.yaml
    python -m bench.supervisor --quick               # 3 kills of echo, 1 of the dialog and speaker
    python -m bench.supervisor --workers dialog,tts --rounds 3
    python -m bench.supervisor --no-pipeline         # echo only

**The supervisor's own part**: ``python supervisor.py`` with ``workers.echo`` victims (restart
``always``; one started as a fresh process each time, one with ``standby: true``) and a
bystander; each victim is killed ``--rounds`` times and the times are taken from the
``sys.lifecycle`` events (one monotonic clock on one machine): kill -> exit seen, exit -> respawn
(the backoff delay), respawn -> ready (interpreter start, imports, bus handshake). It also
measures how long a SIGSTOPped worker takes to be declared hung with ``heartbeat_timeout_s: 1``.

**Every worker of a pipeline** (``--config``, ``configs/host.yaml``;
:mod:`bench.supervisorworkers`): fresh process against standby spare, each restart split into
exit seen, backoff, start (interpreter, imports, handshake) and load (the worker's own model),
so that ``total_no_load`` can be held against the target (ARCHITECTURE.md): < 0.5 s plus the
worker's own model load time.

Figures are printed and saved to ``bench/results/supervisor.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.supervisorworkers import measure_pipeline
from bus.node import Node
from bus.nodeconfig import BUS_FILE, NodeConfig
from schemas.system import LifecycleEvent
from supervision.config import RestartPolicy
from supervision.control import ControlClient

KEYS = ("kill_to_ready_ms", "kill_to_exit_seen_ms", "exit_to_spawn_ms", "spawn_to_ready_ms")
ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "supervisor.json"


def _wait(cond: Any, what: str, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.01)
    raise SystemExit(f"timed out waiting for {what}")


def _events(probe: Node, until: set[str], worker: str, timeout_s: float = 30.0) -> dict[str, int]:
    """ts_ns of each event of ``worker`` until all of ``until`` were seen."""
    seen: dict[str, int] = {}
    deadline = time.monotonic() + timeout_s
    while not until <= set(seen) and time.monotonic() < deadline:
        msg = probe.poll(0.05)
        event = msg.payload if msg is not None else None
        if isinstance(event, LifecycleEvent) and event.worker == worker:
            assert msg is not None
            seen.setdefault(event.event, msg.ts_ns)
    if not until <= set(seen):
        raise SystemExit(f"missing lifecycle events {until - set(seen)} of {worker}")
    return seen


def _row(client: ControlClient, name: str) -> dict[str, Any]:
    return next(r for r in client.call("status")["workers"] if r["name"] == name)


def run(rounds: int) -> dict[str, Any]:
    """Start a supervisor, measure, stop it; return the figures."""
    load_before = round(os.getloadavg()[0], 2)
    tmp = Path(tempfile.mkdtemp(prefix="vbbench-", dir="/tmp"))
    run_dir = tmp / "run"
    config: dict[str, Any] = {
        "heartbeat_ms": 100,
        "workers": {
            # A window shorter than one restart: every kill is a first failure (the first delay).
            "victim": {
                "module": "workers.echo",
                "standby": False,
                "restart": {"policy": "always", "max_restarts": 1000, "window_s": 0.5},
            },
            "victim_standby": {
                "module": "workers.echo",
                "standby": True,
                "restart": {"policy": "always", "max_restarts": 1000, "window_s": 0.5},
            },
            "frozen": {"module": "workers.echo", "heartbeat_timeout_s": 1.0},
            "bystander": {"module": "workers.echo"},
        },
    }
    (tmp / "config.yaml").write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEBUS_")}
    env["VOICEBUS_RUNTIME_DIR"] = str(run_dir)
    log = (tmp / "supervisor.log").open("wb")
    sup = subprocess.Popen(
        [sys.executable, str(ROOT / "supervisor.py"), str(tmp / "config.yaml")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = ControlClient(run_dir)
    try:
        _wait(lambda: (run_dir / "control").exists(), "the supervisor")
        for name in config["workers"]:
            _wait(lambda n=name: _row(client, n)["state"] == "ready", f"{name} ready")
        data = json.loads((run_dir / BUS_FILE).read_text())
        probe = Node(NodeConfig.parse({**data, "name": "bench"}), signals=False)
        probe.subscribe("sys.lifecycle")
        samples: dict[str, list[dict[str, float]]] = {"victim": [], "victim_standby": []}
        for _, (victim, series) in itertools.product(range(rounds), samples.items()):
            if victim == "victim_standby":
                _wait(lambda v=victim: _row(client, v)["standby_ready"], "a standby process")
            pid = _row(client, victim)["pid"]
            kill_ns = time.monotonic_ns()
            os.kill(pid, signal.SIGKILL)
            ev = _events(probe, {"exited", "spawned", "ready"}, victim)
            series.append(
                {
                    "kill_to_exit_seen_ms": (ev["exited"] - kill_ns) / 1e6,
                    "exit_to_spawn_ms": (ev["spawned"] - ev["exited"]) / 1e6,
                    "spawn_to_ready_ms": (ev["ready"] - ev["spawned"]) / 1e6,
                    "kill_to_ready_ms": (ev["ready"] - kill_ns) / 1e6,
                }
            )
            time.sleep(0.3)
        pid = _row(client, "frozen")["pid"]
        time.sleep(0.3)
        stop_ns = time.monotonic_ns()
        os.kill(pid, signal.SIGSTOP)
        ev = _events(probe, {"hung", "ready"}, "frozen")
        hung = {
            "heartbeat_timeout_s": 1.0,
            "sigstop_to_hung_ms": (ev["hung"] - stop_ns) / 1e6,
            "sigstop_to_ready_ms": (ev["ready"] - stop_ns) / 1e6,
        }
        bystander = _row(client, "bystander")
        probe.close()
    finally:
        sup.send_signal(signal.SIGINT)
        sup.wait(30)
        log.close()

    def summary(key: str, victim: str) -> dict[str, float]:
        values = sorted(s[key] for s in samples[victim])
        return {
            "median": round(statistics.median(values), 1),
            "min": round(values[0], 1),
            "max": round(values[-1], 1),
        }

    return {
        "rounds": rounds,
        "backoff_initial_s": RestartPolicy().backoff_initial_s,
        "cpus": os.cpu_count(),
        "load_average_1min": {"before": load_before, "after": round(os.getloadavg()[0], 2)},
        "modes": {
            mode: {key: summary(key, victim) for key in KEYS}
            for mode, victim in (("fresh_process", "victim"), ("standby", "victim_standby"))
        },
        "hang": {k: round(v, 1) for k, v in hung.items()},
        "bystander_restarts": bystander["restarts"],
        "samples": samples,
    }


def _print_pipeline(pipe: dict[str, Any]) -> None:
    fresh, spare = pipe["modes"].get("fresh", {}), pipe["modes"].get("standby", {})
    print(
        f"{'worker':9s} {'fresh total':>12s} {'no load':>8s} {'standby total':>14s} "
        f"{'no load':>8s} {'load':>7s}  (ms, medians; target: no load < 500)"
    )
    for name, row in fresh.items():
        s = spare.get(name)
        cells = [row["total"]["median"], row["total_no_load"]["median"]]
        cells += [s["total"]["median"], s["total_no_load"]["median"]] if s else ["-", "-"]
        load = (s or row)["load"]["median"]
        print(f"{name:9s} {cells[0]:>12} {cells[1]:>8} {cells[2]:>14} {cells[3]:>8} {load:>7}")


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.supervisor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=10, help="kills of echo (10)")
    parser.add_argument("--worker-rounds", type=int, default=5, help="kills of each worker (5)")
    parser.add_argument("--config", default=str(ROOT / "configs/host.yaml"), help="pipeline")
    parser.add_argument("--workers", default="", help="comma list of workers (default: all)")
    parser.add_argument("--no-pipeline", action="store_true", help="echo only")
    parser.add_argument("--quick", action="store_true", help="3 + 1 rounds, dialog and speaker")
    args = parser.parse_args(argv)
    result = run(3 if args.quick else args.rounds)
    if not args.no_pipeline:
        only = [w for w in args.workers.split(",") if w] or (
            ["dialog", "speaker"] if args.quick else None
        )
        print(f"every worker of {args.config} (ms, medians):", flush=True)
        result["pipeline"] = measure_pipeline(
            Path(args.config), 1 if args.quick else args.worker_rounds, only
        )
    print(f"kill -9 -> ready again over {result['rounds']} rounds (ms):")
    for mode, figures in result["modes"].items():
        print(f" {mode}:")
        for key in KEYS:
            s = figures[key]
            print(
                f"  {key:22s} median {s['median']:7.1f}  min {s['min']:7.1f}  max {s['max']:7.1f}"
            )
    h = result["hang"]
    print(
        f"SIGSTOP -> hung detected after {h['sigstop_to_hung_ms']:.0f} ms (timeout 1 s), "
        f"replacement ready after {h['sigstop_to_ready_ms']:.0f} ms"
    )
    print(f"bystander restarts: {result['bystander_restarts']}")
    if "pipeline" in result:
        _print_pipeline(result["pipeline"])
    print(f"load average (1 min): {result['load_average_1min']} on {result['cpus']} cores")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
