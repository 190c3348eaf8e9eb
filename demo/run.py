"""``python -m demo``: the scripted conversation through the whole pipeline (``make run``).

1. speaks the script (:mod:`demo.script`) with the packaged piper voice, as a person would
   sound, the same in every run (``--seed N`` for other renderings; ``--voice espeak`` for
   espeak-ng; ``--script FILE`` for other lines, or recordings), also saved as one WAV,
   ``OUT/conversation.wav``, for ``wavsource``;
2. derives ``OUT/run-config.yaml`` from ``--config`` (the demo itself is the microphone instead
   of ``wavsource``, replies are written to ``OUT/replies/``, a shared-memory region of its own)
   and starts the supervisor on it in a private runtime directory;
3. joins the bus, says each line when the previous turn is over (the barge-in line while the
   assistant is still talking, see :mod:`demo.conductor`), and prints each turn as it
   happens: what was heard, what the assistant says, barge-ins, the car's commands, acks and
   telemetry, and the stages of every turn (segment closed, the pause's speculative
   transcript, transcript, first token, first clause, first audio and its TTS, the STOP in
   the ring, the bus time over its hops);
4. after the last turn, stops everything, writes ``OUT/turns.json`` and exits 0 if every
   scripted line got its turn (1 otherwise).

``--live`` takes a microphone instead (the ``mic`` worker) and runs until Ctrl-C.
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
from demo.conductor import Conductor
from demo.player import ScriptedMic
from demo.script import SCRIPT, SEED, Line, ScriptError, build_wav, load_script, speak_script
from demo.soak import Soak
from demo.transcript import Transcript, format_telemetry
from schemas.asr import AsrText
from schemas.system import LifecycleEvent
from workers.tts.backends import TtsError

__all__ = ["derive_config", "main"]

ROOT = Path(__file__).resolve().parents[1]
#: Where a node finds the running supervisor's bus (docs/writing-a-worker.md, section 5).
ENV_RUNTIME_DIR = "VOICEBUS_RUNTIME_DIR"
TOPICS = (
    "asr.text", "tts.request", "dialog.turn", "dialog.state", "speaker.stop", "speaker.report",
    "llm.abort", "llm.reply", "rtos.command", "rtos.ack", "rtos.telemetry", "rtos.link",
    "sys.lifecycle", "sys.heartbeat", "vad.state",
)  # fmt: skip


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
    for name, spec in list(workers.items()):
        if spec.get("module") == "workers.wavsource":
            del workers[name]  # the demo speaks the lines itself, on cue
            if live:
                workers["mic"] = {**spec, "module": "workers.mic", "settings": {},
                                  "restart": {"policy": "never"}}  # fmt: skip
    for spec in workers.values():
        if spec.get("args"):
            spec["args"] = [region if a in old_paths else a for a in spec["args"]]
    # The supervisor checks the dataflow before it starts anything: say what the demo itself
    # publishes (the spoken lines, unless the mic does) and reads.
    cfg.setdefault("external", {})["demo"] = {
        "kind": "source",
        "summary": "The scripted conversation (python -m demo): speaks, then prints each turn.",
        "produces": [] if live else ["audio.frame"],
        "consumes": list(TOPICS),
    }
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
        self.lines: list[Any] = []
        self.expected: set[str] = set()
        self.modules: dict[str, str] = {}
        self.script: tuple[Line, ...] = load_script(args.script) if args.script else SCRIPT

    def prepare(self) -> Path:
        """WAV, derived config; the config path."""
        self.out.mkdir(parents=True, exist_ok=True)
        for old in (self.out / "replies").glob("*.wav"):
            old.unlink()
        if not self.args.live:
            voice, seed = self.args.voice, self.args.seed
            build_wav(self.out / "conversation.wav", self.script, voice=voice, seed=seed)
            self.lines = speak_script(self.script, voice=voice, seed=seed)
            who = "piper's joe voice" if voice == "piper" else "espeak-ng"
            print(f"Scripted conversation, spoken by {who}, each line when the turn before")
            print("is over (the barge-in line while the assistant is talking):")
            for line in self.script:
                print(f"  {line.kind:9s} {line.text}")
        cfg = yaml.safe_load(Path(self.args.config).read_text())
        cfg = derive_config(cfg, self.out, live=self.args.live, region=self.region)
        self.expected = {n for n, w in cfg["workers"].items() if w.get("module")}
        self.modules = {n: w.get("module") or n for n, w in cfg["workers"].items()}
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
        """Say the lines on cue and print the conversation; True if it ran to its end."""
        t_end = time.monotonic() + self.args.timeout_s
        rounds = 10_000 if self.args.soak_s else 1
        conductor = Conductor(self.script, self.expected, rounds=rounds, modules=self.modules)
        soak = None
        if self.args.soak_s:
            soak = Soak(self.sup.pid if self.sup is not None else 0, sample_s=self.args.sample_s)
            node.subscribe("sys.metric")  # the VAD's count of audio frames lost
        t0 = time.monotonic()
        mic: ScriptedMic | None = None
        mic_node: Node | None = None
        if not self.args.live:
            mic_node = Node(NodeConfig.from_env("demo-mic"), signals=False)
            mic = ScriptedMic(mic_node)
            mic.start()
        try:
            while not self.stop and time.monotonic() < t_end:
                msg = node.poll(0.05)
                now = time.monotonic()
                if msg is not None:
                    conductor.feed(msg, now)
                    p = msg.payload
                    if isinstance(p, AsrText) and p.segment_id in conductor.segments:
                        transcript.turn(p.segment_id).line = conductor.next_line - 1
                    if soak is not None:
                        soak.feed(msg)
                    for line in transcript.feed(msg, time.monotonic_ns()):
                        print(line, flush=True)
                    p = msg.payload
                    if isinstance(p, LifecycleEvent):
                        if p.event == "ready":
                            print(f"           supervisor: {p.worker} ready", flush=True)
                        if p.event == "gave_up" or (self.args.live and p.worker == "mic"
                                                    and p.event == "exited"):  # fmt: skip
                            print(f"{p.worker} {p.event}; see {self.out / 'supervisor.log'}.")
                            return False
                if self.sup is not None and self.sup.poll() is not None:
                    print(f"The supervisor exited; see {self.out / 'supervisor.log'}.")
                    return False
                if mic is None:
                    continue
                if soak is not None:
                    if conductor.round == 1 and not soak.start:
                        soak.begin(now)  # after one round: models loaded, warm
                    soak.tick(now)
                    if now - t0 > self.args.soak_s:
                        conductor.rounds = conductor.round + 1
                i = conductor.due(now, mic.speaking)
                if i is not None:
                    at = (time.monotonic_ns() - transcript.start_ns) / 1e9
                    print(f"[{at:6.1f}s] (says)   {self.script[i].text}", flush=True)
                    mic.say(self.lines[i])
                if conductor.finished:
                    if soak is not None:
                        soak.write(self.out / "soak.json", conductor, time.monotonic() - t0)
                    for i in conductor.timed_out:
                        print(f"No complete turn for line {i + 1}: {self.script[i].text!r}")
                    return not conductor.timed_out
        finally:
            if mic is not None:
                mic.stop()
                mic.join(timeout=2)
            if mic_node is not None:
                mic_node.close()
        if not self.stop:
            print(f"The conversation did not finish within {self.args.timeout_s:.0f} s.")
            return False
        return True


#: The columns of the closing table: (heading, TurnMetrics field).
COLUMNS = (
    ("close", "vad_close_ms"), ("pause", "asr_partial_ms"), ("asr", "asr_ms"),
    ("token", "llm_ttft_ms"), ("clause", "first_clause_ms"), ("tts", "tts_ms"),
    ("audio", "first_audio_ms"), ("e2e", "end_to_end_ms"), ("stop", "stop_ms"),
    ("bus", "bus_ms"),
)  # fmt: skip


def _report(transcript: Transcript, out: Path) -> int:
    turns = transcript.summary()
    (out / "turns.json").write_text(json.dumps(turns, indent=2, ensure_ascii=False))
    print(
        "\nTurns, ms: end of speech -> closed; end of speech -> the pause's transcript; closed ->"
        " transcript (s = speculative); transcript -> first token, first clause, first audio;"
        " its TTS; end to end; end of speech -> STOP in the ring; bus"
    )
    print(f"  {'outcome':9s} " + " ".join(f"{h:>6s}" for h, _ in COLUMNS) + "  user")
    for t in turns:
        m = t["metrics"]
        if not m:
            continue
        cells = [f"{m.get(k, 0.0):6.0f}" if k != "bus_ms" else f"{m.get(k, 0.0):6.2f}"
                 for _, k in COLUMNS]  # fmt: skip
        spec = "s" if m.get("speculative") else " "
        print(f"  {m['outcome']:9s} " + " ".join(cells) + f" {spec}{t['user_text'][:40]!r}")
    if transcript.telemetry is not None:
        print(f"Car at the end: {format_telemetry(transcript.telemetry)}")
    wavs = sorted((out / "replies").glob("*.wav"))
    print(f"Replies written: {len(wavs)} WAV files in {out / 'replies'}")
    heard = [t for t in turns if t["metrics"] and t["metrics"]["outcome"] != "ignored"]
    return len(heard)


def main(argv: list[str] | None = None) -> int:
    """Run the demo."""
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", default=str(ROOT / "configs/host.yaml"), help="pipeline")
    parser.add_argument("--out", default=str(ROOT / "out/demo"), help="output folder")
    parser.add_argument("--live", action="store_true", help="listen on the microphone instead")
    parser.add_argument("--timeout-s", type=float, default=600.0, help="give up after this")
    parser.add_argument(
        "--soak-s", type=float, default=0.0, help="repeat the script this long (soak test)"
    )
    parser.add_argument(
        "--sample-s", type=float, default=60.0, help="soak: sample memory this often"
    )
    parser.add_argument(
        "--voice", choices=("piper", "espeak"), default="piper",
        help="who speaks the user's lines: piper's packaged voice (default) or espeak-ng",
    )  # fmt: skip
    parser.add_argument(
        "--seed", type=int, default=SEED,
        help=f"seed of piper's noise: the lines sound the same in every run (default {SEED}); "
        "another number gives other renderings",
    )  # fmt: skip
    parser.add_argument("--script", type=Path, help="a YAML list of lines instead of the demo's")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    demo = Demo(args)

    def _handler(_signum: int, _frame: object) -> None:
        demo.stop = True

    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    if args.live:
        args.timeout_s = float("inf")
    if args.soak_s:
        args.timeout_s = max(args.timeout_s, args.soak_s + 600)
    try:
        config = demo.prepare()
        node = demo.start(config)
        transcript = Transcript(time.monotonic_ns())
        try:
            ok = demo.follow(node, transcript)
        finally:
            node.close()
    except (RuntimeError, OSError, ScriptError, TtsError) as exc:
        print(f"Demo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        demo.shutdown()
    heard = _report(transcript, demo.out)
    if args.live:
        return 0 if ok else 1
    n = len(demo.script)
    if not ok or heard < n * (1 if not args.soak_s else 2):
        print(f"Only {heard} of {n} scripted lines got a turn; see the log above.")
        return 1
    return 0
