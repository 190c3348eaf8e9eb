"""A restarted dialog resumes from its state file: awake, with its history, its car, its turn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bus import Out
from schemas.asr import AsrPartial, AsrText
from schemas.llm import LlmAbort, LlmDelta, LlmRequest
from schemas.rtos import CarIntent, RtosAck, RtosCommand, RtosTelemetry
from schemas.speaker import SpeakerReport
from schemas.system import LifecycleEvent
from schemas.vad import VadState
from tests.workers.dialog.harness import Harness, make
from workers.dialog.__main__ import publish
from workers.dialog.manager import TurnManager
from workers.dialog.memory import FORMAT, Memory


def spoken(h: Harness) -> list[str]:
    return [r.text for r in h.out("tts.request") if r.text]


def with_memory(path: Path, boot: str = "boot-1", at_ns: int = 0, **settings) -> Harness:
    h = make(**settings)
    h.now_ns = at_ns or h.now_ns
    h.mgr.memory = Memory(path, max_age_s=600, boot=boot)
    h.mgr.start(h.now_ns)
    return h


def restart(h: Harness, path: Path, *, after_s: float = 0.5, boot: str = "boot-1") -> list[Out]:
    """The dialog process dies and a new one starts ``after_s`` later on the same state file."""
    h.now_ns += int(after_s * 1e9)
    h.mgr = TurnManager(h.mgr.s, memory=Memory(path, max_age_s=600, boot=boot))
    outs = h.mgr.start(h.now_ns)
    publish(h.dialog, outs)
    h._drain()
    return outs


def test_a_restarted_dialog_is_still_awake_and_remembers_the_conversation(tmp_path: Path):
    state = tmp_path / "dialog.json"
    h = with_memory(state, awake_window_s=30)
    h.utterance("s1", "Hey robot, what is the capital of France?")
    h.llm_says("s1", "Paris.")
    h.tts_plays()
    outs = restart(h, state)
    assert not any(o.topic == "llm.request" for o in outs)  # no warm-up: the LLM was warm
    h.clear()
    h.utterance("s2", "And of Italy?")  # no wake phrase: the window is still open
    (req,) = h.out("llm.request")
    assert [m.content for m in req.messages[1:]] == [
        "what is the capital of France",
        "Paris.",
        "And of Italy?",
    ]


def test_the_window_closes_across_a_restart_as_it_would_have_without_one(tmp_path: Path):
    state = tmp_path / "dialog.json"
    h = with_memory(state, awake_window_s=10)
    h.utterance("s1", "Hey robot, hello")
    h.llm_says("s1", "Hi.")
    h.tts_plays()
    h.advance(6)
    restart(h, state, after_s=5)  # 11 s after the last activity: closed
    h.clear()
    h.utterance("s2", "what time is it")
    assert h.out("llm.request") == []
    assert h.out("dialog.turn")[0].outcome == "ignored"


def test_a_state_from_another_boot_or_too_old_is_discarded(tmp_path: Path):
    state = tmp_path / "dialog.json"
    h = with_memory(state)
    h.utterance("s1", "Hey robot, hello")
    h.llm_says("s1", "Hi.")
    h.tts_plays()
    restart(h, state, boot="boot-2")
    assert h.mgr.history.messages == () and not h.mgr.window.awake
    h = with_memory(state)
    h.utterance("s1", "Hey robot, hello")
    restart(h, state, after_s=601)
    assert h.mgr.history.messages == () and h.mgr.turn is None


def test_the_turn_in_flight_is_asked_again_and_answered_after_a_restart(tmp_path: Path):
    state = tmp_path / "dialog.json"
    h = with_memory(state, wake="always")
    h.utterance("s1", "tell me a joke")
    (first,) = h.out("llm.request")
    outs = restart(h, state)  # the reply being streamed is lost with the dialog
    assert [o.topic for o in outs][:2] == ["llm.abort", "llm.request"]
    abort, again = outs[0].payload, outs[1].payload
    assert isinstance(abort, LlmAbort) and abort.request_id == "s1"
    assert isinstance(again, LlmRequest) and again.request_id == "s1+"
    assert again.messages[-1].content == first.messages[-1].content == "tell me a joke"
    h.llm_says("s1", "Stale.")
    h.llm_says("s1+", "Why did the robot cross the road?")
    h.tts_plays()
    assert spoken(h) == ["Why did the robot cross the road?"]
    assert h.out("dialog.turn")[0].outcome == "answered"


def test_sentences_heard_before_the_restart_are_not_said_again(tmp_path: Path):
    state = tmp_path / "dialog.json"
    h = with_memory(state, wake="always")
    h.utterance("s1", "tell me a story")
    h.send("llm.delta", LlmDelta(request_id="s1", index=0, text="Once upon a time. There"), "s1")
    assert spoken(h) == ["Once upon a time."]
    restart(h, state)
    h.llm_says("s1+", "Once upon a time. There was a robot.")
    h.tts_plays()
    assert spoken(h) == ["Once upon a time.", "There was a robot."]
    assert [r.index for r in h.out("tts.request")] == [0, 2]  # numbering went on
    assert h.out("tts.request")[-1].final
    assert h.out("dialog.turn")[0].outcome == "answered"


def test_a_two_step_command_cut_between_its_steps_goes_on_after_a_restart(tmp_path: Path):
    state = tmp_path / "dialog.json"
    h = with_memory(state, wake="always")
    h.utterance("s1", "Move forward one meter, then turn left.")
    (drive,) = h.out("rtos.command")
    h.send("rtos.ack", RtosAck(cmd_id=drive.cmd_id, status="started", by="rtos"))
    restart(h, state)
    h.send("rtos.ack", RtosAck(cmd_id=drive.cmd_id, status="done", by="rtos"))
    _, turn = h.out("rtos.command")
    assert turn.kind == "turn" and turn.cmd_id != drive.cmd_id
    h.send("rtos.ack", RtosAck(cmd_id=turn.cmd_id, status="done", by="rtos"))
    assert spoken(h)[-1] == "Done."


def test_a_done_ack_lost_while_the_dialog_was_down_is_inferred_from_telemetry(tmp_path: Path):
    state = tmp_path / "dialog.json"
    h = with_memory(state, wake="always")
    h.utterance("s1", "Move forward one meter, then turn left.")
    (drive,) = h.out("rtos.command")
    h.send("rtos.ack", RtosAck(cmd_id=drive.cmd_id, status="started", by="rtos"))
    moving = RtosTelemetry(state="moving", active_cmd_id=drive.cmd_id)
    h.send("rtos.telemetry", moving)
    restart(h, state)  # its "done" is published while no dialog listens
    h.send("rtos.telemetry", moving)
    assert len(h.out("rtos.command")) == 1
    h.send("rtos.telemetry", RtosTelemetry(state="idle", active_cmd_id=0))
    _, turn = h.out("rtos.command")
    assert turn.kind == "turn"


def test_the_car_s_last_state_answers_a_device_question_right_after_a_restart(tmp_path: Path):
    state = tmp_path / "dialog.json"
    h = with_memory(state, wake="always")
    h.send("rtos.telemetry", RtosTelemetry(state="idle", battery_pct=42))
    h.advance(1.1)  # the telemetry is written lazily (at most once a second)
    restart(h, state)
    h.utterance("s1", "How much charge do you have?")
    assert spoken(h) == ["My battery is at 42 percent."]


def test_a_reply_being_spoken_is_closed_by_the_speaker_after_a_restart(tmp_path: Path):
    state = tmp_path / "dialog.json"
    h = with_memory(state, wake="always")
    h.utterance("s1", "hello")
    h.llm_says("s1", "Hello there. Nice to meet you.")
    restart(h, state)  # the audio comes while no dialog listens
    h.send("speaker.report", SpeakerReport(turn_id="s1", event="finished"), "s1")
    (turn,) = h.out("dialog.turn")
    assert turn.outcome == "answered" and turn.turn_id == "s1"
    assert h.out("dialog.state")[-1].state == "idle"


def test_commands_of_a_dialog_without_memory_do_not_reuse_ids(tmp_path: Path):
    h1 = with_memory(tmp_path / "a.json", wake="always")
    h1.utterance("s1", "turn left")
    # a fresh dialog a second later, with no state: the gateway may still run s1's command
    h2 = with_memory(tmp_path / "b.json", at_ns=h1.now_ns + 10**9, wake="always")
    h2.utterance("s1", "turn left")
    assert h1.out("rtos.command")[0].cmd_id != h2.out("rtos.command")[0].cmd_id


def test_the_state_file_is_whole_json_after_every_change(tmp_path: Path):
    state = tmp_path / "dialog.json"
    h = with_memory(state, wake="always")
    h.utterance("s1", "tell me a story")
    doc = json.loads(state.read_text())
    assert doc["format"] == FORMAT and doc["current"] == "s1"
    assert doc["turns"][0]["stage"] == "llm" and doc["turns"][0]["user_text"] == "tell me a story"
    assert [p.name for p in tmp_path.iterdir()] == ["dialog.json"]  # no temporary file left


def test_a_plan_goes_on_after_a_restart_even_when_another_turn_came_between(tmp_path: Path):
    state = tmp_path / "dialog.json"
    h = with_memory(state, wake="always")
    h.utterance("s1", "Move forward one meter, then turn left.")
    (drive,) = h.out("rtos.command")
    h.tts_plays()
    h.utterance("s2", "Where are you?")  # the current turn is another one now
    h.tts_plays()
    restart(h, state)
    h.send("rtos.ack", RtosAck(cmd_id=drive.cmd_id, status="done", by="rtos"))
    assert [c.kind for c in h.out("rtos.command")] == ["drive", "turn"]


def test_a_state_that_does_not_parse_is_discarded_and_the_dialog_starts_fresh(tmp_path: Path):
    state = tmp_path / "dialog.json"
    h = with_memory(state, wake="always")
    h.utterance("s1", "hello")
    doc = json.loads(state.read_text())
    doc["turns"][0]["timeline"]["no_such_field"] = 1
    state.write_text(json.dumps(doc))
    outs = restart(h, state)
    assert h.mgr.turn is None and h.mgr.history.messages == ()
    assert [o.topic for o in outs] == ["dialog.state", "llm.request"]  # as a fresh start


def test_an_utterance_said_while_the_dialog_hung_is_apologised_for_soon_after(tmp_path: Path):
    state = tmp_path / "dialog.json"
    h = with_memory(state, wake="always", asr_timeout_s=30, outage_grace_s=5)
    h.send("vad.state", VadState(speaking=True, segment_id="s1", at_ns=h.now_ns), "s1")
    restart(h, state, after_s=3.5)  # stopped, then killed as hung: its end and transcript lost
    h.advance(4.9)
    assert spoken(h) == []
    h.advance(0.2)
    assert spoken(h)[0] == "Sorry, I did not catch that."


def test_a_wake_up_lost_while_the_dialog_hung_is_apologised_for_and_then_listened_to(
    tmp_path: Path,
):
    state = tmp_path / "dialog.json"
    h = with_memory(state, outage_grace_s=5)  # asleep: the wake phrase is needed
    h.send("vad.state", VadState(speaking=True, segment_id="s1", at_ns=h.now_ns), "s1")
    restart(h, state, after_s=3.5)  # "Hey robot, ..." was said while it hung
    h.advance(5.1)
    assert spoken(h)[0] == "Sorry, I did not catch that."
    h.utterance("s2", "What is your name?")  # said again, without the wake phrase
    assert len(h.out("llm.request")) == 1


# --- what issue 13 added to the state: intents-only requests, STOPs, early requests, partials ---


def test_a_restored_intents_only_turn_is_asked_again_for_its_intents_not_as_chat(tmp_path: Path):
    state = tmp_path / "dialog.json"
    h = with_memory(state, wake="always")
    h.utterance("s1", "forward drive two meters and back one meter")
    (first,) = h.out("llm.request")
    assert first.intent_schema
    outs = restart(h, state)
    again = [o.payload for o in outs if isinstance(o.payload, LlmRequest)]
    assert [r.request_id for r in again] == ["s1+"]
    assert again[0].intent_schema == first.intent_schema  # intents only, under the same schema
    assert again[0].messages == first.messages  # not the chat prompt with the history
    answer = '[{"kind":"drive","distance_m":2.0},{"kind":"drive","distance_m":-1.0}]'
    intents = (CarIntent(kind="drive", distance_m=2.0), CarIntent(kind="drive", distance_m=-1.0))
    h.llm_says("s1+", answer, intents=intents)
    assert spoken(h) == ["OK, moving forward 2 metres, then moving backward 1 metre."]
    assert [(c.kind, c.distance_m) for c in h.out("rtos.command")] == [("drive", 2.0)]


def _stop_at_the_pause(h: Harness, seg: str = "s1") -> None:
    h.send("vad.state", VadState(speaking=True, segment_id=seg, at_ns=h.now_ns), seg)
    heard = AsrPartial(text="Stop the car!", segment_id=seg, revision=0, speech_end_ns=h.now_ns)
    h.send("asr.partial", heard, seg)


def test_a_stop_acknowledged_before_a_restart_is_not_sent_again_by_the_restarted_dialog(
    tmp_path: Path,
):
    state = tmp_path / "dialog.json"
    h = with_memory(state, wake="always")
    _stop_at_the_pause(h)
    (stop,) = h.out("rtos.command")
    h.send("rtos.ack", RtosAck(cmd_id=stop.cmd_id, status="accepted", at_ns=h.now_ns + 10**7))
    outs = restart(h, state)
    assert not any(o.topic == "rtos.command" for o in outs)
    h.send("vad.state", VadState(speaking=False, segment_id="s1", at_ns=h.now_ns), "s1")
    h.send("asr.text", AsrText(text="Stop the car!", segment_id="s1"), "s1")
    assert len(h.out("rtos.command")) == 1  # the segment's transcript finds its STOP sent
    assert spoken(h) == ["OK, stopping."]
    h.tts_plays()
    (turn,) = h.out("dialog.turn")
    assert turn.outcome == "command" and turn.stop_ms > 0  # the STOP's ring stamp was kept


def test_a_stop_not_yet_acknowledged_is_sent_again_first_thing_after_a_restart(tmp_path: Path):
    state = tmp_path / "dialog.json"
    h = with_memory(state, wake="always")
    _stop_at_the_pause(h)
    (stop,) = h.out("rtos.command")
    outs = restart(h, state)  # killed before its "accepted" came: it may never have left
    assert outs[0].topic == "rtos.command"
    again = outs[0].payload
    assert isinstance(again, RtosCommand) and again.kind == "stop"
    assert again.cmd_id != stop.cmd_id  # a new id: the gateway may hold the old one
    h.send("rtos.ack", RtosAck(cmd_id=again.cmd_id, status="accepted", at_ns=h.now_ns))
    restart(h, state)
    h.send("asr.text", AsrText(text="Stop the car!", segment_id="s1"), "s1")
    assert [c.kind for c in h.out("rtos.command")] == ["stop", "stop"]  # no third one


def test_a_stop_followed_by_another_command_is_not_sent_again_after_a_restart(tmp_path: Path):
    state = tmp_path / "dialog.json"
    h = with_memory(state, wake="always")
    _stop_at_the_pause(h)
    h.send("vad.state", VadState(speaking=False, segment_id="s1", at_ns=h.now_ns), "s1")
    h.send("asr.text", AsrText(text="Stop the car! Then turn left.", segment_id="s1"), "s1")
    assert [c.kind for c in h.out("rtos.command")] == ["stop", "turn"]
    outs = restart(h, state)  # the STOP's ack was lost, but the car was told more since
    assert not any(o.topic == "rtos.command" for o in outs)


def test_an_early_request_in_flight_is_aborted_after_a_restart_and_the_turn_asks_again(
    tmp_path: Path,
):
    state = tmp_path / "dialog.json"
    h = with_memory(state, wake="always")
    h.send("vad.state", VadState(speaking=True, segment_id="s1", at_ns=h.now_ns), "s1")
    h.send("vad.state", VadState(speaking=False, segment_id="s1", at_ns=h.now_ns), "s1")
    question = "What is the capital of France?"
    h.send("asr.partial", AsrPartial(text=question, segment_id="s1", revision=0), "s1")
    assert [r.request_id for r in h.out("llm.request")] == ["s1~0"]
    h.send("llm.delta", LlmDelta(request_id="s1~0", index=0, text="Paris is"), "s1")
    outs = restart(h, state)
    aborts = [o.payload.request_id for o in outs if isinstance(o.payload, LlmAbort)]
    assert aborts == ["s1~0"] and h.mgr.early is None
    h.send("llm.delta", LlmDelta(request_id="s1~0", index=1, text=" the capital."), "s1")
    h.send("asr.text", AsrText(text=question, segment_id="s1", speculative=True), "s1")
    assert [r.request_id for r in h.out("llm.request")] == ["s1~0", "s1"]
    h.llm_says("s1", "Paris.")
    assert spoken(h) == ["Paris."]  # nothing of the aborted stream


def test_a_pause_s_transcript_kept_across_a_restart_answers_for_an_asr_that_dies(
    tmp_path: Path,
):
    state = tmp_path / "dialog.json"
    h = with_memory(state, wake="always", early_answers=False)
    end = h.now_ns
    h.send("vad.state", VadState(speaking=True, segment_id="s1", at_ns=end - 10**9), "s1")
    partial = AsrPartial(text="Tell me a joke.", segment_id="s1", revision=0, speech_end_ns=end)
    h.send("asr.partial", partial, "s1")
    h.send("vad.state", VadState(speaking=False, segment_id="s1", at_ns=end), "s1")
    h.advance(1.1)  # the partials are written lazily (at most once a second)
    restart(h, state)
    h.send("sys.lifecycle", LifecycleEvent(worker="asr", event="exited", exit_code=-9))
    (req,) = h.out("llm.request")
    assert req.request_id == "s1" and req.messages[-1].content == "Tell me a joke."
    assert spoken(h) == []  # answered, not apologised for


def test_a_restored_turn_keeps_its_timeline_and_bus_hops(tmp_path: Path):
    state = tmp_path / "dialog.json"
    h = with_memory(state, wake="always")
    h.travel_s = 0.002
    h.utterance("s1", "hello")
    h.llm_says("s1", "Hello there.")
    restart(h, state)
    h.utterance("s2", "what is your name")  # cuts s1 short: s1's metrics are published
    s1 = next(t for t in h.out("dialog.turn") if t.turn_id == "s1")
    assert s1.outcome == "aborted" and s1.bus_hops >= 2 and s1.bus_ms > 0
    assert sum(s1.bus_detail_ms.values()) == pytest.approx(s1.bus_ms)
    assert s1.llm_ttft_ms > 0


def test_a_token_that_only_moves_the_turn_s_deadline_is_not_a_write_but_the_deadline_is_kept(
    tmp_path: Path,
):
    state = tmp_path / "dialog.json"
    h = with_memory(state, wake="always")
    h.utterance("s1", "tell me a story")
    h.send("llm.delta", LlmDelta(request_id="s1", index=0, text="Once "), "s1")  # first token
    memory = h.mgr.memory
    assert memory is not None
    writes: list[int] = []
    real = memory._write

    def counted(core: dict, lazy: dict, now_ns: int) -> None:
        writes.append(now_ns)
        real(core, lazy, now_ns)

    memory._write = counted  # type: ignore[method-assign]
    for i, word in enumerate(["upon", "a", "time", "there"], 1):  # 50 ms apart: within LAZY_S
        h.now_ns += 50_000_000
        h.send("llm.delta", LlmDelta(request_id="s1", index=i, text=word + " "), "s1")
    assert writes == []  # each token moved the deadline only
    h.now_ns += 1_100_000_000  # past LAZY_S: the next token writes the deadline
    h.send("llm.delta", LlmDelta(request_id="s1", index=5, text="was "), "s1")
    assert len(writes) == 1
    doc = json.loads(state.read_text())
    assert doc["deadlines"]["s1"] == h.mgr.turns["s1"].deadline_ns
    assert "deadline_ns" not in doc["turns"][0]
    h2 = with_memory(state, wake="always", at_ns=h.now_ns)
    assert h2.mgr.turns["s1"].request_id == "s1+"  # restored, its stream asked for again


def test_a_state_file_of_the_layout_before_is_still_read(tmp_path: Path):
    state = tmp_path / "dialog.json"
    h = with_memory(state, wake="always")
    h.travel_s = 0.002
    h.utterance("s1", "tell me a story")
    h.send("llm.delta", LlmDelta(request_id="s1", index=0, text="Once "), "s1")
    doc = json.loads(state.read_text())
    for t in doc["turns"]:  # as the file was: the deadline in each turn, bus sums by message
        t["deadline_ns"] = doc["deadlines"].pop(t["turn_id"])
        hops = t["timeline"]["bus"].pop("hop_ms")
        t["timeline"]["bus"] = {"ms": {"asr.text": sum(hops.values())}, "hops": {"asr.text": 4}}
    del doc["deadlines"]
    state.write_text(json.dumps(doc))
    h2 = with_memory(state, wake="always", at_ns=h.now_ns)
    t = h2.mgr.turns["s1"]
    assert t.request_id == "s1+"  # not discarded: restored and asked again
    before = h.mgr.turns["s1"].timeline.bus.total_ms
    assert before > 0 and t.timeline.bus.total_ms == pytest.approx(before)
