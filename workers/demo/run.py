"""``python -m workers.demo``: the scripted conversation through the whole pipeline (``make run``).

1. speaks the script (:mod:`workers.demo.script`) into ``OUT/conversation.wav`` with espeak-ng;
2. derives ``OUT/run-config.yaml`` from ``--config`` (that WAV as the microphone, replies written
   to ``OUT/replies/``, a shared-memory region of its own) and starts the supervisor on it in a
   private runtime directory;
3. joins the bus and prints each turn as it happens: what was heard, what the assistant says,
   barge-ins, the car's commands, acks and telemetry, and the latency breakdown of every turn;
4. when the WAV is over and the last reply was played, stops everything, writes
   ``OUT/turns.json`` and exits 0 if every scripted line got its turn (1 otherwise).

``--live`` takes a microphone instead of the WAV and runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bus import Node, NodeConfig
from bus.runtime import ENV_RUNTIME_DIR
from schemas.audio import SpeakerReport
from schemas.dialog import DialogState
from schemas.system import LifecycleEvent
from workers.demo.script import SCRIPT, build_wav
from workers.demo.transcript import Transcript, format_telemetry

__all__ = ["derive_config", "main"]

ROOT = Path(__file__).resolve().parents[2]
TOPICS = (
    "asr.text", "tts.request", "dialog.turn", "dialog.state", "speaker.stop", "speaker.report",
    "llm.abort", "rtos.command", "rtos.ack", "rtos.telemetry", "rtos.link", "sys.lifecycle",
)  # fmt: skip
_ACTIVITY = {"asr.text", "tts.request", "speaker.report", "rtos.command", "rtos.ack"}


def derive_config(cfg: dict[str, Any], out: Path, *, live: bool, region: str) -> dict[str, Any]:
    """The config to run: our WAV (or the mic), our reply folder, our shared region."""
    workers: dict[str, Any] = cfg.get("workers", {})
    old_paths: list[str] = []
    for spec in workers.values():
        module, settings = spec.get("module"), spec.setdefault("settings", {})
        if module == "workers.speaker":
            settings["out_dir"] = str(out / "replies")
        elif module == "workers.rtgw":
            old = str(settings.get("region", "shmfile:/dev/shm/voicebus-ivmr"))
            if old.startswith("shmfile:"):
                old_paths.append(old.removeprefix("shmfile:"))
                settings["region"] = f"shmfile:{region}"
        elif module == "workers.wavsource":
            if live:
                spec["module"] = "workers.mic"
                spec["settings"] = {}
                spec["restart"] = {"policy": "never"}
            else:
                settings["files"] = [str(out / "conversation.wav")]
                settings["exit_when_done"] = True
    for spec in workers.values():
        if spec.get("args"):
            spec["args"] = [region if a in old_paths else a for a in spec["args"]]
    return cfg


class Demo:
    """The supervisor child process, our bus node, and the transcript."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out = Path(args.out).resolve()
        self.region = f"/dev/shm/voicebus-demo-{os.getpid()}"
        self.runtime = Path(tempfile.mkdtemp(prefix="voicebus-demo-"))
        self.sup: subprocess.Popen[bytes] | None = None
        self.stop = False

    def prepare(self) -> Path:
        """WAV, derived config; the config path."""
        self.out.mkdir(parents=True, exist_ok=True)
        for old in (self.out / "replies").glob("*.wav"):
            old.unlink()
        if not self.args.live:
            placed = build_wav(self.out / "conversation.wav")
            print(f"Scripted conversation ({placed[-1].end_s:.0f} s), spoken by espeak-ng:")
            for p in placed:
                print(f"  {p.start_s:5.1f}s  {p.line.kind:9s} {p.line.text}")
        cfg = yaml.safe_load(Path(self.args.config).read_text())
        cfg = derive_config(cfg, self.out, live=self.args.live, region=self.region)
        path = self.out / "run-config.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return path

    def start(self, config: Path) -> Node:
        """Start the supervisor and join its bus."""
        env = {**os.environ, ENV_RUNTIME_DIR: str(self.runtime), "HF_HUB_OFFLINE": "1"}
        log = (self.out / "supervisor.log").open("wb")
        self.sup = subprocess.Popen(
            [sys.executable, str(ROOT / "supervisor.py"), str(config)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        print(f"Supervisor started (pid {self.sup.pid}); its log: {self.out / 'supervisor.log'}")
        deadline = time.monotonic() + 60
        while not (self.runtime / "bus.json").is_file():
            if self.sup.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"The supervisor did not bring the bus up; see {self.out / 'supervisor.log'}."
                )
            time.sleep(0.05)
        os.environ[ENV_RUNTIME_DIR] = str(self.runtime)
        node = Node(NodeConfig.from_env("demo"), signals=False)
        node.subscribe(*TOPICS)
        return node

    def shutdown(self) -> None:
        """Stop the supervisor (and with it every worker)."""
        if self.sup is not None and self.sup.poll() is None:
            self.sup.send_signal(signal.SIGINT)
            try:
                self.sup.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.sup.pid, signal.SIGKILL)
                self.sup.wait()
        Path(self.region).unlink(missing_ok=True)

    def follow(self, node: Node, transcript: Transcript) -> bool:
        """Print the conversation until it is over; True if nothing gave up."""
        limit_s = self.args.timeout_s
        t_end = time.monotonic() + limit_s
        source_done = False
        playing: set[str] = set()
        state = "idle"
        last_activity = time.monotonic()
        ok = True
        while not self.stop and time.monotonic() < t_end:
            msg = node.poll(0.1)
            now = time.monotonic()
            if msg is not None:
                for line in transcript.feed(msg, time.monotonic_ns()):
                    print(line, flush=True)
                p = msg.payload
                if msg.topic in _ACTIVITY:
                    last_activity = now
                if isinstance(p, SpeakerReport):
                    (playing.add if p.event == "started" else playing.discard)(p.turn_id)
                elif isinstance(p, DialogState):
                    state = p.state
                elif isinstance(p, LifecycleEvent):
                    if p.event == "ready":
                        print(f"           supervisor: {p.worker} ready", flush=True)
                    if p.worker in ("wavsource", "mic") and p.event in ("exited", "stopped"):
                        source_done = True
                        if self.args.live:
                            print("The microphone stopped; see the supervisor log.")
                            return False
                    if p.event == "gave_up":
                        ok = False
                        print(f"{p.worker} gave up; see {self.out / 'supervisor.log'}.")
                        return False
            if self.sup is not None and self.sup.poll() is not None:
                print(f"The supervisor exited; see {self.out / 'supervisor.log'}.")
                return False
            quiet = now - last_activity > self.args.settle_s
            if source_done and not playing and state in ("idle", "listening") and quiet:
                return ok
        if not self.stop:
            print(f"The conversation did not finish within {limit_s:.0f} s.")
            return False
        return ok


def _report(transcript: Transcript, out: Path) -> int:
    turns = transcript.summary()
    (out / "turns.json").write_text(json.dumps(turns, indent=2, ensure_ascii=False))
    print("\nTurns (ms; end of speech -> closed -> transcript -> first token -> first audio):")
    for t in turns:
        m = t["metrics"]
        if not m:
            continue
        cells = [m.get(k, 0.0) for k in ("vad_close_ms", "asr_ms", "llm_ttft_ms", "first_audio_ms")]
        print(
            f"  {m['outcome']:9s} e2e {m['end_to_end_ms']:6.0f} | "
            + " ".join(f"{c:6.0f}" for c in cells)
            + f" | bus {m['bus_ms']:.2f} | {t['user_text'][:48]!r}"
        )
    if transcript.telemetry is not None:
        print(f"Car at the end: {format_telemetry(transcript.telemetry)}")
    wavs = sorted((out / "replies").glob("*.wav"))
    print(f"Replies written: {len(wavs)} WAV files in {out / 'replies'}")
    heard = [t for t in turns if t["metrics"] and t["metrics"]["outcome"] != "ignored"]
    return len(heard)


def main(argv: list[str] | None = None) -> int:
    """Run the demo."""
    parser = argparse.ArgumentParser(
        prog="python -m workers.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", default=str(ROOT / "configs/host.yaml"), help="pipeline")
    parser.add_argument("--out", default=str(ROOT / "out/demo"), help="output folder")
    parser.add_argument("--live", action="store_true", help="listen on the microphone instead")
    parser.add_argument("--timeout-s", type=float, default=300.0, help="give up after this")
    parser.add_argument("--settle-s", type=float, default=3.0, help="quiet time that ends it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    demo = Demo(args)

    def _handler(_signum: int, _frame: object) -> None:
        demo.stop = True

    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    if args.live:
        args.timeout_s = float("inf")
    try:
        config = demo.prepare()
        node = demo.start(config)
        transcript = Transcript(time.monotonic_ns())
        try:
            ok = demo.follow(node, transcript)
        finally:
            node.close()
    except (RuntimeError, OSError) as exc:
        print(f"Demo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        demo.shutdown()
    heard = _report(transcript, demo.out)
    if args.live:
        return 0 if ok else 1
    if not ok or heard < len(SCRIPT):
        print(f"Only {heard} of {len(SCRIPT)} scripted lines got a turn; see the log above.")
        return 1
    return 0
