"""bench.chaos's bookkeeping: verdicts from bus traffic, the fault plan, the report, the cue sheet.

The run itself (real processes, real faults) is ``tests/bench/test_chaos_run.py`` (slow).
"""

from __future__ import annotations

import itertools

from bench.chaosfaults import Fault, plan_faults
from bench.chaosledger import Ledger, is_apology
from bench.chaosreport import summarise
from bus.framing import Envelope
from demo.script import SCRIPT
from schemas.asr import AsrText
from schemas.base import Message
from schemas.dialog import TurnMetrics
from schemas.llm import ChatMessage, LlmRequest
from schemas.speaker import SpeakerReport
from schemas.system import Heartbeat, LifecycleEvent
from schemas.tts import TtsRequest
from schemas.vad import VadState
from workers.dialog.replies import say

TOPIC = {
    VadState: "vad.state", AsrText: "asr.text", LlmRequest: "llm.request",
    TtsRequest: "tts.request", SpeakerReport: "speaker.report", TurnMetrics: "dialog.turn",
    LifecycleEvent: "sys.lifecycle", Heartbeat: "sys.heartbeat",
}  # fmt: skip


def env(p: Message, trace: str = "", ts_ns: int = 0) -> Envelope:
    return Envelope(TOPIC[type(p)], "x", 1, 1, ts_ns, trace, p)


def turn(led: Ledger, seg: str, at: float, *, text: str = "hello", reply: str = "Hi.",
         outcome: str = "answered", played: bool = True) -> None:  # fmt: skip
    """A whole turn seen on the bus from ``at``."""
    led.feed(env(VadState(speaking=True, segment_id=seg, at_ns=0)), at)
    led.feed(env(VadState(speaking=False, segment_id=seg, at_ns=0)), at + 1)
    led.feed(env(AsrText(text=text, segment_id=seg)), at + 1.5)
    if outcome == "ignored":
        led.feed(env(TurnMetrics(turn_id=seg, outcome="ignored")), at + 1.6)
        return
    if reply:
        led.feed(env(TtsRequest(turn_id=seg, index=0, text=reply, final=True)), at + 2)
    if played:
        led.feed(env(SpeakerReport(turn_id=seg, event="started")), at + 2.5)
    led.feed(env(TurnMetrics(turn_id=seg, outcome=outcome)), at + 3)  # type: ignore[arg-type]


def test_a_reply_that_reaches_the_speaker_in_time_is_answered() -> None:
    led = Ledger(deadline_s=30)
    led.said(0, 0, "hey", "greeting", 10.0)
    turn(led, "s1", 11.0)
    led.decide()
    assert (led.lines[0].verdict, led.lines[0].reply_s) == ("answered", 3.5)


def test_a_spoken_apology_is_apologised_whether_or_not_the_dialog_reported_the_turn() -> None:
    led = Ledger(deadline_s=30)
    led.said(0, 0, "a", "question", 0.0)
    turn(led, "s1", 1.0, reply="Sorry, I can't think right now.", outcome="error")
    led.said(1, 1, "b", "question", 20.0)
    led.feed(env(VadState(speaking=True, segment_id="s2", at_ns=0)), 21.0)
    led.feed(env(TtsRequest(turn_id="s2", index=0, text=say("asr_failed"))), 40.0)
    led.feed(env(SpeakerReport(turn_id="s2", event="started")), 40.5)  # no dialog.turn
    led.decide()
    assert [r.verdict for r in led.lines] == ["apologised", "apologised"]
    assert is_apology(say("llm_failed", "zh")) and not is_apology("Paris is the capital.")


def test_lost_lines_say_where_their_turn_stopped() -> None:
    led = Ledger(deadline_s=30)
    led.said(0, 0, "nothing heard", "question", 0.0)
    led.said(1, 1, "ignored", "question", 10.0)
    turn(led, "s2", 11.0, outcome="ignored")
    led.said(2, 2, "never played", "question", 20.0)
    turn(led, "s3", 21.0, played=False)
    led.said(3, 3, "no transcript", "question", 30.0)
    led.feed(env(VadState(speaking=True, segment_id="s4", at_ns=0)), 31.0)
    led.said(4, 4, "too late", "question", 40.0)
    led.feed(env(VadState(speaking=True, segment_id="s5", at_ns=0)), 41.0)
    led.feed(env(SpeakerReport(turn_id="s5", event="started")), 75.0)
    led.decide()
    assert all(r.verdict == "lost" for r in led.lines)
    reasons = [r.reason for r in led.lines]
    assert reasons[0].startswith("not heard")
    assert reasons[1].startswith("ignored by the dialog (not awake)")
    assert "never reached the speaker" in reasons[2]
    assert reasons[3].startswith("no transcript")
    assert reasons[4].startswith("late")


def test_a_line_split_in_two_turns_takes_the_best_and_a_barged_in_reply_still_counts() -> None:
    led = Ledger(deadline_s=30)
    led.said(0, 4, "a long story", "story", 0.0)
    turn(led, "s1", 1.0, played=False)
    turn(led, "s2", 3.0, outcome="aborted")  # started playing, then cut by the next line
    led.said(1, 5, "stop", "barge-in", 8.0)
    turn(led, "s3", 8.5, reply="OK, stop.", outcome="command")
    led.feed(env(SpeakerReport(turn_id="s2", event="cut")), 9.0)
    led.decide()
    assert [r.verdict for r in led.lines] == ["answered", "answered"]
    assert led.lines[0].turns == ["s1", "s2"]
    assert led.lines[0].complete  # cut by the barge-in: complete as far as the user is concerned
    assert led.lines[1].complete is False  # started, never finished (no final sentence came)


def test_a_turn_seen_only_from_its_transcript_belongs_to_the_line_being_said() -> None:
    led = Ledger(deadline_s=30)
    led.said(0, 0, "a", "question", 0.0)
    led.said(1, 1, "b", "question", 10.0)
    led.feed(env(AsrText(text="b", segment_id="s9")), 12.0)  # its vad.state lost (proxy down)
    led.feed(env(TtsRequest(turn_id="s9", index=0, text="B.")), 13.0)
    led.feed(env(SpeakerReport(turn_id="s9", event="started")), 13.5)
    led.decide()
    assert [r.verdict for r in led.lines] == ["lost", "answered"]
    assert led.answered_after(5.0) == 13.5 and led.answered_after(14.0) == -1.0


def test_the_llm_request_of_the_warm_up_belongs_to_no_line() -> None:
    led = Ledger(deadline_s=30)
    led.said(0, 0, "a", "question", 0.0)
    req = LlmRequest(request_id="warm-up", messages=(ChatMessage(role="user", content="Hi"),))
    led.feed(env(req, trace="warm-up"), 1.0)
    assert led.turns == {} and led.lines[0].turns == []


WORKERS = {"vad": "workers.vad", "llm": "workers.llm", "dialog": "workers.dialog",
           "rtgw": "workers.rtgw", "rtapp": "rtapp"}  # fmt: skip
KINDS = [line.kind for line in SCRIPT]


def test_the_plan_is_seeded_and_puts_each_fault_on_a_line_meant_for_it() -> None:
    kinds = ["kill:vad", "kill:llm", "kill:rtgw", "kill:proxy", "sigstop", "cpu"]
    a = plan_faults(kinds, 3, 7, KINDS, WORKERS, ["vad", "llm", "dialog"])
    b = plan_faults(kinds, 3, 7, KINDS, WORKERS, ["vad", "llm", "dialog"])
    assert [(f.kind, f.line, f.delay_s) for f in a] == [(f.kind, f.line, f.delay_s) for f in b]
    assert sorted(f.kind.split(":")[0] for f in a).count("kill") == 12
    assert all(f.kind.startswith("sigstop:") for f in a if f.anchor == "cue" and f.target in
               ("vad", "llm", "dialog") and not f.kind.startswith("kill"))  # fmt: skip
    for f in a:
        kind = KINDS[f.line % len(KINDS)]
        if f.kind in ("kill:llm", "cpu"):
            assert kind in ("greeting", "question", "story")
        if f.kind == "kill:rtgw":
            assert kind == "command" and f.anchor == "rtos.command"
        if f.kind == "kill:llm":
            assert f.anchor == "llm.request" and 0 <= f.delay_s <= 1.5
    lines = [f.line for f in a]
    assert all(later - earlier >= 2 for earlier, later in itertools.pairwise(lines))


def _fault(kind: str, line: int, at: float, ready: float) -> Fault:
    target = kind.split(":", 1)[1] if ":" in kind else ""
    return Fault(kind, target, line, "cue", 0.0, at=at, ready_at=ready)


def test_the_report_counts_verdicts_during_and_after_each_fault_and_names_the_lost_lines() -> None:
    led = Ledger(deadline_s=30)
    led.said(0, 0, "hey robot", "greeting", 0.0)
    turn(led, "s1", 1.0)
    led.lines[0].fault = "kill:dialog"
    led.said(1, 1, "capital?", "question", 10.0)
    turn(led, "s2", 11.0, outcome="ignored")
    led.said(2, 2, "forward", "command", 20.0)
    turn(led, "s3", 21.0)
    led.decide()
    faults = [_fault("kill:dialog", 0, 4.0, 5.2)]
    out = summarise(led.lines, faults, led)
    row = out["by_fault"]["kill:dialog"]
    assert row["during"] == {"answered": 1, "apologised": 0, "lost": 0}
    assert row["after"] == {"answered": 0, "apologised": 0, "lost": 1}
    assert row["fault_to_ready"]["median_s"] == 1.2
    assert row["fault_to_next_answer"]["median_s"] == 19.5  # s3 played at 23.5
    assert out["baseline"] == {"answered": 1, "apologised": 0, "lost": 0}
    assert out["totals"] == {"answered": 2, "apologised": 0, "lost": 1}
    (lost,) = out["lost"]
    assert lost["line"] == 1 and lost["fault_in_flight"] is None
    assert lost["previous_fault"] == {"kind": "kill:dialog", "line": 0, "before_s": 6.0}
    assert "not awake" in lost["reason"]
