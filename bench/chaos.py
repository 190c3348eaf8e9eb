"""Chaos: the scripted conversation while workers and the bus proxy are killed, stopped, starved.

    python -m bench.chaos              # 5 rounds of every fault kind: bench/results/chaos.json
    python -m bench.chaos --quick      # 2 faults of one kind (kill:dialog): chaos_quick.json
    python -m bench.chaos --kinds kill:llm,cpu --rounds 3 --seed 7
    python -m bench.chaos --voice espeak --script lines.yaml   # as python -m demo takes them

The pipeline of ``--config`` (``configs/host.yaml``) runs as in ``python -m demo``: the
supervisor and every worker as processes, the demo's scripted microphone saying each line when
the turn before is over (the barge-in line while the assistant talks). Meanwhile a fault driver
(:mod:`bench.chaosfaults`) kills -9 each worker and the proxy, SIGSTOPs a worker past its
heartbeat timeout and saturates the CPU, each fault once per round, in a seeded random order,
during a line chosen for it and at a seeded random moment after the message that shows its
victim at work (the LLM request for the LLM, the transcript for the dialog...). Every faulted
line is followed by at least one line without a fault.

Every line ends answered, apologised or lost, decided from the bus alone
(:mod:`bench.chaosledger`: a reply, or an apology, reached the speaker within ``--deadline-s``).
The report, per fault kind: the verdicts of the lines during the fault and of the line after it,
and the time to recover: fault -> victim ready again, fault -> next answered reply at the
speaker; and every lost line with the fault in flight, the fault before it and where its turn
stopped. Figures: ``bench/results/chaos.json`` (``--quick``: ``chaos_quick.json``); the run's
logs, replies and transcript in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bench.chaosfaults import FaultDriver, plan_faults
from bench.chaosledger import Ledger
from bench.chaosreport import report, summarise
from bus import Node, NodeConfig
from demo.conductor import Conductor
from demo.player import ScriptedMic
from demo.run import Demo
from demo.script import SEED as VOICE_SEED  # the demo's voice seed (args.seed is the faults')
from schemas.system import LifecycleEvent
from supervision.config import SupervisorConfig, parse_config
from supervision.control import ControlClient
from workers.dialog.settings import DialogSettings

__all__ = ["all_kinds", "default_deadline_s", "main"]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
QUICK_KIND = "kill:dialog"


def all_kinds(cfg: SupervisorConfig) -> list[str]:
    """Every fault kind of a config: kill each worker and the proxy, sigstop one, cpu."""
    return [*(f"kill:{name}" for name in cfg.workers), "kill:proxy", "sigstop", "cpu"]


def default_deadline_s(cfg: dict[str, Any]) -> float:
    """Longer than the dialog's own worst case before it apologises (transcript + first token)."""
    spec: dict[str, Any] = next(
        (w for w in cfg["workers"].values() if w.get("module") == "workers.dialog"), {}
    )
    s = DialogSettings.model_validate(spec.get("settings", {}))
    return s.asr_timeout_s + s.llm_first_token_timeout_s + 10.0


class Run:
    """One chaos run: the demo's pipeline, our tap, the cue sheet, the faults, the ledger."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        demo_args = argparse.Namespace(
            config=args.config, out=args.out, live=False, timeout_s=args.timeout_s, soak_s=0.0,
            sample_s=60.0, voice=args.voice, script=args.script, seed=VOICE_SEED,
        )  # fmt: skip
        self.demo = Demo(demo_args)
        self.script = self.demo.script
        self.stop = False

    def prepare(self) -> tuple[Path, dict[str, Any], SupervisorConfig]:
        """The demo's derived config (our WAV lines, reply folder, region), parsed."""
        path = self.demo.prepare()
        import yaml

        raw = yaml.safe_load(path.read_text())
        return path, raw, parse_config(raw, str(path))

    def converse(
        self, node: Node, conductor: Conductor, ledger: Ledger, driver: FaultDriver
    ) -> str:
        """Say the lines, inject the faults; how the run ended."""
        t_end = time.monotonic() + self.args.timeout_s
        t0 = time.monotonic()
        mic_node = Node(NodeConfig.from_env("chaos-mic"), signals=False)
        mic = ScriptedMic(mic_node)
        mic.start()
        n = 0
        try:
            while not self.stop and time.monotonic() < t_end:
                msg = node.poll(0.02)
                now = time.monotonic()
                if msg is not None:
                    conductor.feed(msg, now)
                    ledger.feed(msg, now)
                    driver.feed(msg, now)
                    p = msg.payload
                    if isinstance(p, LifecycleEvent) and p.event != "spawned":
                        print(f"[{now - t0:6.1f}s]   supervisor: {p.worker} {p.event}", flush=True)
                f = driver.tick(now)
                if f is not None:
                    print(
                        f"[{now - t0:6.1f}s] FAULT {f.kind} (line {f.line}) {f.detail}", flush=True
                    )
                if self.demo.sup is not None and self.demo.sup.poll() is not None:
                    return "the supervisor exited"
                if driver.pending is not None:
                    continue  # the line's fault first
                i = conductor.due(now, mic.speaking)
                if i is not None:
                    line = self.script[i]
                    rec = ledger.said(n, i, line.text, line.kind, now)
                    armed = driver.on_line(n, now)
                    rec.fault = armed.kind if armed is not None else ""
                    mark = f"  [fault: {rec.fault}]" if rec.fault else ""
                    print(f"[{now - t0:6.1f}s] line {n}: {line.text}{mark}", flush=True)
                    mic.say(self.demo.lines[i])
                    n += 1
                if conductor.finished and not driver.recovering():
                    return "done"
        finally:
            mic.stop()
            mic.join(timeout=2)
            mic_node.close()
        return "stopped" if self.stop else f"not finished within {self.args.timeout_s:.0f} s"

    def execute(self) -> dict[str, Any]:
        """Run it; the results."""
        config_path, raw, cfg = self.prepare()
        kinds = self.args.kinds or ([QUICK_KIND] if self.args.quick else all_kinds(cfg))
        rounds = self.args.rounds or (2 if self.args.quick else 5)
        modules = {n: (w.module or n) for n, w in cfg.workers.items()}
        stoppable = [n for n, w in cfg.workers.items() if w.module]
        plan = plan_faults(
            kinds, rounds, self.args.seed, [line.kind for line in self.script], modules, stoppable
        )
        deadline = self.args.deadline_s or default_deadline_s(raw)
        passes = max(1, -(-(plan[-1].line + 2) // len(self.script)))  # at least one line after
        print(f"{len(plan)} faults over {passes} passes of the script; deadline {deadline:.0f} s")
        load_start = os.getloadavg()
        node = self.demo.start(config_path)
        node.subscribe("llm.request")
        assert self.demo.sup is not None
        driver = FaultDriver(
            plan,
            ControlClient(self.demo.runtime, timeout_s=10.0),
            self.demo.sup.pid,
            {n: w.heartbeat_timeout_s for n, w in cfg.workers.items()},
            cpu_s=self.args.cpu_s,
        )
        conductor = Conductor(
            self.script, self.demo.expected, rounds=passes, line_timeout_s=deadline,
            modules=modules,
        )  # fmt: skip
        ledger = Ledger(deadline)
        t0 = time.monotonic()
        try:
            ended = self.converse(node, conductor, ledger, driver)
        finally:
            driver.cleanup()
            node.close()
            self.demo.shutdown()
        ledger.decide()
        result = {
            "what": "bench.chaos: the scripted conversation under faults (see its docstring)",
            "config": str(self.args.config),
            "seed": self.args.seed,
            "voice": self.args.voice,
            "script": str(self.args.script or "demo.script.SCRIPT"),
            "rounds": rounds,
            "kinds": kinds,
            "deadline_s": deadline,
            "cpu_load_s": self.args.cpu_s,
            "ended": ended,
            "duration_s": round(time.monotonic() - t0, 1),
            "machine": {
                "cpus": os.cpu_count(),
                "loadavg_start": load_start,
                "loadavg_end": os.getloadavg(),
            },
            **summarise(ledger.lines, plan, ledger),
            "faults": [f.as_dict(t0) for f in plan],
            "lines": [rec.as_dict(t0) for rec in ledger.lines],
        }
        return result


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: 0 when no line was lost, 1 otherwise."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", default=str(ROOT / "configs/host.yaml"), help="pipeline")
    parser.add_argument("--quick", action="store_true", help=f"2 faults of {QUICK_KIND} only")
    parser.add_argument("--rounds", type=int, default=0, help="faults of each kind (5)")
    parser.add_argument(
        "--kinds",
        type=lambda s: [k for k in s.split(",") if k],
        default=None,
        help="comma list of kill:NAME, kill:proxy, sigstop, sigstop:NAME, cpu (default: all)",
    )
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--deadline-s", type=float, default=0.0,
                        help="a line without a reply this long after it is lost (default: the "
                             "dialog's asr + first-token timeouts + 10 s)")  # fmt: skip
    parser.add_argument("--cpu-s", type=float, default=20.0, help="length of a cpu fault")
    parser.add_argument("--timeout-s", type=float, default=6 * 3600.0, help="give up after this")
    parser.add_argument(
        "--voice", choices=("piper", "espeak"), default="piper",
        help="who speaks the user's lines (as in python -m demo): piper (default) or espeak-ng",
    )  # fmt: skip
    parser.add_argument("--script", type=Path, help="a YAML list of lines instead of the demo's")
    parser.add_argument("--out", default=str(RESULTS / "tmp" / "chaos"), help="run folder")
    parser.add_argument("--results", default="", help="results file (default under bench/results)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    run = Run(args)

    def _handler(_signum: int, _frame: object) -> None:
        run.stop = True

    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    try:
        result = run.execute()
    except (RuntimeError, OSError) as exc:
        print(f"Chaos run failed: {exc}", file=sys.stderr)
        return 2
    report(result)
    out = (
        Path(args.results)
        if args.results
        else RESULTS / ("chaos_quick.json" if args.quick else "chaos.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"saved {out}")
    return 0 if result["totals"]["lost"] == 0 and result["ended"] == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
