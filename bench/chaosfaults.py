"""The faults of a chaos run: which, during which line, when; injecting them; their recovery.

Fault kinds (the keys of the report):

- ``kill:NAME``: SIGKILL of worker NAME's process (its pid from the supervisor's ``status``);
- ``kill:proxy``: SIGKILL of the bus proxy (the supervisor's ``bus.proxy`` child);
- ``sigstop:NAME``: SIGSTOP of worker NAME for its ``heartbeat_timeout_s`` plus
  :data:`STOP_MARGIN_S`, then SIGCONT if the supervisor has not replaced it by then;
- ``cpu``: ``2 x cores`` busy processes for ``cpu_s`` seconds.

:func:`plan_faults` places every kind once per round, in a seeded random order, each during a
line of the conversation followed by at least one line without a fault (which shows whether the
restart stayed invisible to the next turn). Each fault waits for its **anchor**, the message that
shows its victim at work on that line (:data:`ANCHORS`: the transcript for the dialog, the LLM
request for the LLM, playback for the speaker...), then a seeded random delay; a fault whose
anchor does not come within ``anchor_wait_s`` of the line is injected anyway (``anchored`` false).

:class:`FaultDriver` injects them and times the recovery: kill -> exit seen -> ready again
(``sys.lifecycle``; for the proxy: the first message published after the kill that reaches our
tap), and the end of the load for ``cpu``.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from bus.framing import Envelope
from schemas.speaker import SpeakerReport
from schemas.system import LifecycleEvent
from schemas.vad import VadState
from supervision.control import ControlClient

__all__ = ["ANCHORS", "Fault", "FaultDriver", "plan_faults"]

log = logging.getLogger(__name__)

#: How long past its heartbeat timeout a SIGSTOPped worker stays stopped, s.
STOP_MARGIN_S = 2.0
#: Script line kinds that reach the LLM (a fault of the LLM or the CPU is aimed at them).
LLM_LINES = frozenset({"greeting", "question", "story"})

#: victim module -> (anchor, largest random delay after it in s, line kinds it is aimed at).
#: Anchors: ``cue`` (the line starts being said), ``speech_end`` (the VAD closed the segment),
#: or a topic seen for the line's turn.
ANCHORS: dict[str, tuple[str, float, frozenset[str]]] = {
    "workers.vad": ("cue", 2.0, frozenset()),
    "workers.asr": ("speech_end", 0.4, frozenset()),
    "workers.dialog": ("asr.text", 0.8, frozenset()),
    "workers.llm": ("llm.request", 1.5, LLM_LINES),
    "workers.tts": ("tts.request", 0.5, frozenset()),
    "workers.speaker": ("speaker.report", 1.5, frozenset()),
    "workers.rtgw": ("rtos.command", 1.0, frozenset({"command"})),
    "rtapp": ("rtos.command", 1.0, frozenset({"command"})),
    "proxy": ("cue", 6.0, frozenset()),
    "sigstop": ("cue", 2.0, frozenset()),
    "cpu": ("cue", 1.0, LLM_LINES),
}
_OTHER = ("cue", 6.0, frozenset[str]())


@dataclass
class Fault:
    """One planned fault and what happened to it (times in monotonic s, -1 = not yet)."""

    kind: str
    target: str
    """Worker name, ``proxy`` or empty (cpu)."""
    line: int
    """Number of the line it is injected during."""
    anchor: str
    delay_s: float
    at: float = -1.0
    """When it was injected."""
    anchored: bool = False
    pid: int = 0
    exit_seen_at: float = -1.0
    ready_at: float = -1.0
    """Victim ready again (proxy: traffic through; cpu: load ended; sigstop: continued)."""
    replaced: bool | None = None
    """sigstop: the supervisor killed and replaced the stopped worker."""
    detail: str = ""
    armed_at: float = -1.0
    anchor_seen_at: float = -1.0

    def as_dict(self, t0: float) -> dict[str, Any]:
        """For the results file (times relative to ``t0``)."""

        def rel(t: float) -> float | None:
            return round(t - self.at, 3) if t >= 0 and self.at >= 0 else None

        return {
            "kind": self.kind,
            "line": self.line,
            "anchor": self.anchor,
            "anchored": self.anchored,
            "at_s": round(self.at - t0, 2) if self.at >= 0 else None,
            "exit_seen_after_s": rel(self.exit_seen_at),
            "ready_after_s": rel(self.ready_at),
            "replaced": self.replaced,
            "detail": self.detail,
        }


def _anchor_of(kind: str, target: str, modules: dict[str, str]) -> tuple[str, float, frozenset]:
    if kind == "cpu":
        return ANCHORS["cpu"]
    if kind.startswith("sigstop:"):
        return ANCHORS["sigstop"]
    if target == "proxy":
        return ANCHORS["proxy"]
    return ANCHORS.get(modules.get(target, target), _OTHER)


def plan_faults(
    kinds: list[str],
    rounds: int,
    seed: int,
    line_kinds: list[str],
    modules: dict[str, str],
    stoppable: list[str],
) -> list[Fault]:
    """Every kind once per round, seeded; ``sigstop`` picks its victim among ``stoppable``."""
    rng = random.Random(seed)
    faults: list[Fault] = []
    line = 0
    for _ in range(rounds):
        order = list(kinds)
        rng.shuffle(order)
        for kind in order:
            if kind == "sigstop":
                kind = f"sigstop:{rng.choice(stoppable)}"
            target = "" if kind == "cpu" else kind.split(":", 1)[1]
            anchor, spread, aimed = _anchor_of(kind, target, modules)
            while aimed and line_kinds[line % len(line_kinds)] not in aimed:
                line += 1
            faults.append(Fault(kind, target, line, anchor, round(rng.uniform(0, spread), 3)))
            line += 2 + rng.randrange(2)  # then one or two lines without a fault
    return faults


@dataclass
class FaultDriver:
    """Injects the planned faults and watches their victims come back."""

    plan: list[Fault]
    control: ControlClient
    supervisor_pid: int
    heartbeat_timeout_s: dict[str, float]
    cpu_s: float = 20.0
    anchor_wait_s: float = 20.0
    busy: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _cont_at: float = -1.0
    _load_until: float = -1.0
    _armed: Fault | None = None
    _current_turns: set[str] = field(default_factory=set)

    @property
    def pending(self) -> Fault | None:
        """The fault armed for the current line and not yet injected."""
        return self._armed

    def on_line(self, n: int, now: float) -> Fault | None:
        """Line ``n`` starts being said: arm its fault, if it has one."""
        self._current_turns = set()
        self._armed = next((f for f in self.plan if f.line == n and f.at < 0), None)
        if self._armed is not None:
            self._armed.armed_at = now
            if self._armed.anchor == "cue":
                self._armed.anchor_seen_at, self._armed.anchored = now, True
        return self._armed

    def feed(self, msg: Envelope, now: float) -> None:
        """Anchors of the armed fault; recovery of the injected ones."""
        p = msg.payload
        f = self._armed
        if isinstance(p, VadState) and p.speaking:
            self._current_turns.add(p.segment_id)
        if f is not None and f.anchor_seen_at < 0 and self._is_anchor(f, msg):
            f.anchor_seen_at, f.anchored = now, True
        for g in self.plan:
            if g.at < 0 or g.ready_at >= 0:
                continue
            if g.target == "proxy" and msg.ts_ns > int(g.at * 1e9):
                g.ready_at = now  # published after the kill: the new proxy forwards
            elif isinstance(p, LifecycleEvent) and p.worker == g.target:
                if p.event in ("exited", "hung") and g.exit_seen_at < 0:
                    g.exit_seen_at = now
                    if g.kind.startswith("sigstop:"):
                        g.replaced = True
                elif p.event == "ready" and g.exit_seen_at >= 0:
                    g.ready_at = now
                elif p.event == "gave_up":
                    g.detail = f"the supervisor gave up on {g.target}"

    def _is_anchor(self, f: Fault, msg: Envelope) -> bool:
        p = msg.payload
        if f.anchor == "speech_end":
            if not isinstance(p, VadState) or p.speaking or p.dropped:
                return False
        elif msg.topic != f.anchor or (isinstance(p, SpeakerReport) and p.event != "started"):
            return False
        turn = msg.trace or getattr(p, "turn_id", "") or getattr(p, "segment_id", "")
        # The victim at work on this line's turn (any turn if the tap missed its vad.state).
        return turn in self._current_turns or not self._current_turns

    def tick(self, now: float) -> Fault | None:
        """Inject what is due, continue a stopped worker, end the load; the fault injected."""
        if self._cont_at >= 0 and now >= self._cont_at:
            self._continue(now)
        if self._load_until >= 0 and now >= self._load_until:
            self._end_load(now)
        f = self._armed
        if f is None:
            return None
        if f.anchor_seen_at < 0 and now - f.armed_at >= self.anchor_wait_s:
            f.anchor_seen_at, f.detail = now, "anchor not seen: injected at the wait's end"
        if f.anchor_seen_at < 0 or now < f.anchor_seen_at + f.delay_s:
            return None
        self._armed = None
        self._inject(f, now)
        return f

    def _pid_of(self, target: str) -> int:
        reply = self.control.call("status")
        if target == "proxy":
            return int(reply["bus"]["pid"] or 0)  # not its spare, which waits beside it
        return next((r["pid"] or 0 for r in reply["workers"] if r["name"] == target), 0)

    def _inject(self, f: Fault, now: float) -> None:
        f.at = now
        if f.kind == "cpu":
            n = 2 * (os.cpu_count() or 1)
            self.busy = [
                subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)
            ]
            self._load_until = now + self.cpu_s
            f.detail = f"{n} busy processes for {self.cpu_s:.0f} s"
            return
        f.pid = self._pid_of(f.target)
        if not f.pid:
            f.detail = f"{f.target} had no process to {f.kind.split(':')[0]} at that moment"
            f.ready_at = now
            return
        try:
            if f.kind.startswith("sigstop:"):
                os.kill(f.pid, signal.SIGSTOP)
                self._cont_at = now + self.heartbeat_timeout_s.get(f.target, 3.0) + STOP_MARGIN_S
            else:
                os.kill(f.pid, signal.SIGKILL)
        except ProcessLookupError:
            f.detail, f.ready_at = f"{f.target} (pid {f.pid}) was already gone", now
        log.info("fault_injected kind=%s pid=%d", f.kind, f.pid)

    def _continue(self, now: float) -> None:
        self._cont_at = -1.0
        for f in self.plan:
            if f.kind.startswith("sigstop:") and f.at >= 0 and f.replaced is None:
                try:
                    os.kill(f.pid, signal.SIGCONT)
                    f.replaced, f.ready_at = False, now
                    f.detail = "not replaced by the supervisor: continued"
                except ProcessLookupError:
                    f.replaced = True

    def _end_load(self, now: float) -> None:
        self._load_until = -1.0
        for proc in self.busy:
            proc.kill()
            proc.wait()
        self.busy = []
        for f in self.plan:
            if f.kind == "cpu" and f.at >= 0 and f.ready_at < 0:
                f.ready_at = now

    def recovering(self) -> bool:
        """A fault injected whose victim is not back yet."""
        return any(f.at >= 0 and f.ready_at < 0 for f in self.plan)

    def cleanup(self) -> None:
        """Continue what we stopped, end the load (call before stopping the pipeline)."""
        for f in self.plan:
            if f.kind.startswith("sigstop:") and f.at >= 0 and f.replaced is None:
                try:
                    os.kill(f.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        for proc in self.busy:
            proc.kill()
            proc.wait()
        self.busy = []
