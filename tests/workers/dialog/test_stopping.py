"""STOP, always: a stop word stops the car at once, awake or not, mid-turn, during playback."""

from __future__ import annotations

import pytest

from bench.understanding_corpus import load_corpus
from schemas.asr import AsrPartial, AsrText
from schemas.llm import LlmDelta
from schemas.rtos import CarIntent, RtosAck
from schemas.speaker import SpeakerReport
from schemas.vad import VadState
from tests.workers.dialog.harness import make

CORPUS = load_corpus()


def stops(h) -> list[str]:
    return [c.kind for c in h.out("rtos.command") if c.kind in ("stop", "estop")]


def partial(h, seg: str, text: str, revision: int = 0) -> None:
    h.send("asr.partial", AsrPartial(text=text, segment_id=seg, revision=revision), seg)


def test_the_pause_s_transcript_stops_the_car_before_the_segment_closes_even_asleep():
    h = make()  # asleep: no wake phrase said
    h.send("vad.state", VadState(speaking=True, segment_id="s1", at_ns=h.now_ns), "s1")
    partial(h, "s1", "Stop the car!")
    assert stops(h) == ["stop"]
    (cmd,) = h.out("rtos.command")
    assert cmd.source.endswith(":s1") and h.seen[0][0] == "rtos.command"
    h.send("asr.text", AsrText(text="Stop the car!", segment_id="s1"), "s1")
    assert stops(h) == ["stop"]  # once per utterance
    assert h.out("dialog.turn")[0].outcome == "ignored" and h.out("tts.request") == []


def test_without_a_partial_the_segment_s_transcript_stops_first_of_all():
    h = make()
    h.utterance("s1", "停车")
    assert stops(h) == ["stop"]
    h.clear()
    h.utterance("s2", "Hey robot, emergency stop!")
    assert h.seen[0][0] == "rtos.command" and stops(h) == ["estop"]
    assert h.out("rtos.command")[0].cmd_id != 0


def test_a_stop_written_as_its_sound_alike_stops_the_car_asleep_and_moves_nothing_awake():
    h = make()  # asleep
    partial(h, "s1", "start moving,")  # how tiny.en wrote piper's "Stop moving."
    assert stops(h) == ["stop"]
    h.clear()
    h = make(wake="always")
    h.utterance("s2", "Of the car immediately.")  # "Halt the car immediately."
    assert stops(h) == ["stop"] and len(h.out("rtos.command")) == 1
    assert h.out("llm.request") == []
    h.clear()
    h.utterance("s3", "Start the story, please.")  # a sound-alike in a sentence: no stop
    assert stops(h) == []


def test_awake_a_bare_stop_is_sent_once_and_acknowledged_aloud():
    h = make(wake="always")
    partial(h, "s1", "Stop.")
    h.utterance("s1", "Stop.")
    assert stops(h) == ["stop"] and len(h.out("rtos.command")) == 1
    assert [r.text for r in h.out("tts.request") if r.text] == ["OK, stopping."]
    h.tts_plays()
    (turn,) = h.out("dialog.turn")
    assert turn.outcome == "command"


def test_stop_then_a_command_sends_the_stop_once_and_then_the_command():
    h = make(wake="always")
    partial(h, "s1", "Stop and turn left.")
    h.utterance("s1", "Stop and turn left.")
    kinds = [c.kind for c in h.out("rtos.command")]
    assert kinds == ["stop", "turn"]


def test_stop_in_the_middle_of_a_turn_and_while_the_assistant_speaks():
    h = make(wake="always")
    h.utterance("s1", "tell me a long story")
    h.send("llm.delta", LlmDelta(request_id="s1", index=0, text="Once upon a"), "s1")
    h.send("vad.state", VadState(speaking=True, segment_id="s2", at_ns=h.now_ns), "s2")
    partial(h, "s2", "Freeze!")  # mid-turn: the reply was being generated
    assert stops(h) == ["stop"]
    h.clear()
    h.utterance("s3", "tell me another story")
    h.send("llm.delta", LlmDelta(request_id="s3", index=0, text="A fox lived here. It"), "s3")
    h.tts_plays()
    h.send("speaker.report", SpeakerReport(turn_id="s3", event="started"), "s3")
    assert h.mgr.assistant_talking()
    partial(h, "s4", "别动")  # during playback, a new segment's pause
    assert stops(h) == ["stop"]


def test_a_stop_heard_after_the_turn_started_takes_back_its_reply():
    # The asr's stop check answers after the segment when it closed during the check: the
    # turn was started from the first transcript ("halt immediately" as "all the media").
    h = make(wake="always")
    h.utterance("s1", "all the media.")
    (req,) = h.out("llm.request")
    h.send("llm.delta", LlmDelta(request_id=req.request_id, index=0, text="The media is"), "s1")
    h.clear()
    partial(h, "s1", "halt immediately", revision=1)
    assert h.seen[0][0] == "rtos.command" and stops(h) == ["stop"]
    assert [s.turn_id for s in h.out("speaker.stop")] == ["s1"]
    assert [a.request_id for a in h.out("llm.abort")] == [req.request_id]
    (turn,) = h.out("dialog.turn")
    assert turn.outcome == "command" and turn.user_text == "halt immediately"
    h.clear()
    h.send("llm.delta", LlmDelta(request_id=req.request_id, index=1, text=" big. It is."), "s1")
    assert h.out("tts.request") == []  # nothing of the cut reply is spoken after the STOP
    assert all("media" not in x.content for x in h.mgr.history.messages)
    assert not h.mgr.assistant_talking()


def test_a_stop_heard_after_a_command_turn_stops_its_speech_and_keeps_its_record():
    h = make(wake="always")
    h.utterance("s1", "Pull back three feet.")
    assert [c.kind for c in h.out("rtos.command")] == ["drive"]
    h.clear()
    partial(h, "s1", "hold back, brake,", revision=1)  # a false STOP: safe
    assert stops(h) == ["stop"] and h.out("llm.request") == []
    assert [s.turn_id for s in h.out("speaker.stop")] == ["s1"]
    (turn,) = h.out("dialog.turn")
    assert turn.outcome == "command"
    h.clear()
    partial(h, "s1", "hold back, brake,", revision=1)  # again: nothing more
    assert h.seen == []


def test_a_stop_heard_after_the_turn_ended_only_stops_the_car():
    h = make(wake="always")
    h.utterance("s1", "all the media.")
    (req,) = h.out("llm.request")
    h.llm_says(req.request_id, "It is big.")
    h.tts_plays()
    assert h.out("dialog.turn")
    h.clear()
    partial(h, "s1", "halt immediately", revision=1)
    assert stops(h) == ["stop"]
    assert h.out("speaker.stop") == [] and h.out("dialog.turn") == []


def test_a_stop_drops_the_rest_of_a_plan_in_progress():
    h = make(wake="always")
    h.utterance("s1", "move forward one meter, then turn left")
    (drive,) = h.out("rtos.command")
    partial(h, "s2", "Stop!")
    h.send("rtos.ack", RtosAck(cmd_id=drive.cmd_id, status="failed", reason="Stopped."), "s1")
    kinds = [c.kind for c in h.out("rtos.command")]
    assert kinds == ["drive", "stop"]  # the turn left is not sent after the STOP
    assert not any("failed" in r.text for r in h.out("tts.request"))


@pytest.mark.parametrize(
    "line", [x for x in CORPUS.lines if x.category == "stop"], ids=lambda x: x.id
)
def test_every_stop_line_of_the_corpus_stops_the_car_with_its_kind(line):
    for awake in (True, False):
        h = make(wake="always" if awake else "phrase")
        h.utterance("s1", line.reference, language=line.lang)
        assert stops(h)[:1] == [line.intents[0]["kind"]], (line.reference, awake)


@pytest.mark.parametrize(
    "line",
    [x for x in CORPUS.lines if x.category in ("near_miss", "question", "chat", "command")],
    ids=lambda x: x.id,
)
def test_lines_without_a_stop_word_never_stop_the_car(line):
    h = make(wake="always")
    partial(h, "s1", line.reference)
    h.utterance("s1", line.reference, language=line.lang)
    assert bool(stops(h)) == line.stop_word, line.reference


def test_the_ring_stamp_of_the_stop_s_ack_is_the_turn_s_stop_time():
    h = make(wake="always")
    h.send("vad.state", VadState(speaking=True, segment_id="s1", at_ns=h.now_ns), "s1")
    end = h.now_ns
    h.send("vad.state", VadState(speaking=False, segment_id="s1", at_ns=end), "s1")
    partial(h, "s1", "Halt!")
    (cmd,) = h.out("rtos.command")
    h.send("rtos.ack", RtosAck(cmd_id=cmd.cmd_id, status="accepted", at_ns=end + 250_000_000))
    h.send("asr.text", AsrText(text="Halt!", segment_id="s1"), "s1")
    h.tts_plays()
    (turn,) = h.out("dialog.turn")
    assert turn.stop_ms == 250.0


def test_a_stop_heard_at_a_pause_inside_the_utterance_is_timed_from_that_pause():
    h = make(wake="always")
    h.send("vad.state", VadState(speaking=True, segment_id="s1", at_ns=h.now_ns), "s1")
    pause_end = h.now_ns + 300_000_000  # "Stop," ... then the question goes on
    h.send("asr.partial", AsrPartial(text="Stop,", segment_id="s1", revision=0,
                                     speech_end_ns=pause_end), "s1")  # fmt: skip
    (cmd,) = h.out("rtos.command")
    h.send("rtos.ack", RtosAck(cmd_id=cmd.cmd_id, status="accepted", at_ns=pause_end + 200_000_000))
    end = pause_end + 1_500_000_000
    h.send("vad.state", VadState(speaking=False, segment_id="s1", at_ns=end), "s1")
    h.send("asr.text", AsrText(text="Stop, how much charge is left?", segment_id="s1",
                               speech_end_ns=end), "s1")  # fmt: skip
    h.tts_plays()
    (turn,) = h.out("dialog.turn")
    assert turn.stop_ms == 200.0  # from the end of "Stop,", not of the whole utterance


def test_a_stop_the_llm_s_intents_repeat_is_not_sent_again():
    h = make(wake="always")
    h.utterance("s1", "stop, forward drive two meters and back one meter")
    (req,) = h.out("llm.request")
    assert req.intent_schema and stops(h) == ["stop"]  # sent before the LLM was asked
    intents = (CarIntent(kind="stop"), CarIntent(kind="drive", distance_m=2.0),
               CarIntent(kind="drive", distance_m=-1.0))  # fmt: skip
    h.llm_says("s1", "[...]", intents=intents)
    assert [c.kind for c in h.out("rtos.command")] == ["stop", "drive"]  # the stop once
    assert [r.text for r in h.out("tts.request") if r.text] == [
        "OK, moving forward 2 metres, then moving backward 1 metre."
    ]


def test_asleep_the_emergency_forms_of_both_languages_latch_the_emergency_stop():
    for text in ("急刹车", "E-stop!", "紧急停止"):
        h = make()
        h.utterance("s1", text)
        assert stops(h) == ["estop"], text
        assert h.out("tts.request") == []  # not awake: nothing said
