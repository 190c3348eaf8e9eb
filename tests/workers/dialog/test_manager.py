import pytest

from schemas.asr import AsrText
from schemas.llm import LlmReply, LlmRequest
from schemas.rtos import CarIntent, RtosAck, RtosTelemetry
from schemas.speaker import SpeakerReport
from schemas.system import LifecycleEvent
from schemas.vad import VadState
from tests.workers.dialog.harness import make


def spoken(h) -> list[str]:
    return [r.text for r in h.out("tts.request") if r.text]


def test_wake_phrase_opens_the_window_and_the_question_goes_to_the_llm_with_one_trace():
    h = make()
    h.utterance("s1", "Hey robot, what is the capital of France?")
    (req,) = h.out("llm.request")
    assert req.request_id == "s1"
    assert req.messages[0].role == "system"
    assert req.messages[-1].content == "what is the capital of France"
    h.llm_says("s1", "Paris is the capital", " of France. It is", " a big city.")
    assert spoken(h) == ["Paris is the capital of France.", "It is a big city."]
    assert h.out("tts.request")[-1].final
    h.tts_plays()
    (turn,) = h.out("dialog.turn")
    assert turn.outcome == "answered" and turn.turn_id == "s1"
    assert turn.asr_ms == 200.0 and turn.vad_close_ms == 300.0
    assert turn.end_to_end_ms > turn.first_audio_ms > turn.llm_ttft_ms > 0
    assert h.traces() == {"s1"}
    states = [s.state for s in h.out("dialog.state")]
    assert states[:2] == ["thinking", "speaking"] and states[-1] == "idle"


def test_first_sentence_is_requested_before_the_reply_ends():
    h = make(wake="always")
    h.utterance("s1", "tell me something")
    h.send("llm.delta", _delta("s1", "First sentence. Second"), "s1")
    assert spoken(h) == ["First sentence."]


def test_without_the_wake_phrase_nothing_is_answered():
    h = make()
    h.utterance("s1", "what is the capital of France?")
    assert h.out("llm.request") == [] and h.out("tts.request") == []
    assert h.out("dialog.turn")[0].outcome == "ignored"


def test_the_call_word_misheard_at_the_start_still_wakes_but_the_name_in_a_sentence_does_not():
    # Whisper tiny.en heard the demo's "Hey robot, hello, what is your name?" as "a robot, ...".
    h = make()
    h.utterance("s1", "I saw a robot yesterday, what is it called?")
    assert h.out("llm.request") == [] and h.out("dialog.turn")[0].outcome == "ignored"
    h.utterance("s2", "a robot, hello, what is your name?")
    (req,) = h.out("llm.request")
    assert req.request_id == "s2" and req.messages[-1].content == "hello, what is your name"


def test_wake_phrase_alone_gets_an_acknowledgement_and_the_next_utterance_needs_none():
    h = make()
    h.utterance("s1", "Hey robot.")
    assert spoken(h) == ["Yes?", "I'm listening."]
    h.tts_plays()
    h.utterance("s2", "What is two plus two?")
    assert h.out("llm.request")[0].messages[-1].content == "What is two plus two?"


def test_awake_window_expires_after_silence_and_re_arms_the_wake_phrase():
    h = make(awake_window_s=10)
    h.utterance("s1", "hey robot")
    h.tts_plays()
    h.advance(5)
    h.utterance("s2", "how are you")  # still awake: keeps the window open
    h.llm_says("s2", "Fine.")
    h.tts_plays()
    h.advance(9.9)
    assert h.out("dialog.state")[-1].awake
    h.advance(0.2)
    assert not h.out("dialog.state")[-1].awake
    h.clear()
    h.utterance("s3", "how are you")
    assert h.out("llm.request") == []
    h.utterance("s4", "ok robot how are you")
    assert len(h.out("llm.request")) == 1


def test_barge_in_stops_playback_and_aborts_the_llm_then_handles_the_new_utterance():
    h = make(wake="always")
    h.utterance("s1", "tell me a long story")
    h.send("llm.delta", _delta("s1", "Once upon a time. There was"), "s1")
    h.tts_plays()
    h.send("speaker.report", SpeakerReport(turn_id="s1", event="started"), "s1")
    h.clear()
    h.send("vad.state", VadState(speaking=True, segment_id="s2", at_ns=h.now_ns), "s2")
    (stop,) = h.out("speaker.stop")
    (abort,) = h.out("llm.abort")
    assert abort.request_id == "s1" and stop.reason == "barge-in"
    assert h.out("dialog.turn")[0].outcome == "aborted"
    # the rest of the aborted stream is not spoken
    h.send("llm.delta", _delta("s1", " a dragon. "), "s1")
    assert spoken(h) == []
    h.send("speaker.report", SpeakerReport(turn_id="s1", event="cut"), "s1")
    h.utterance("s2", "what is your name", language="en")
    assert h.out("llm.request")[-1].request_id == "s2"
    # the aborted turn stays in the history, with what was said of it
    contents = [m.content for m in h.out("llm.request")[-1].messages]
    assert "tell me a long story" in contents and "Once upon a time." in contents


def test_an_intent_becomes_exactly_one_command_and_its_outcome_is_spoken():
    h = make(wake="always")
    h.utterance("s1", "could you maybe turn to your left side for me, my friend")  # a question
    h.llm_says("s1", "", intents=(CarIntent(kind="turn", angle_deg=90.0),))
    (cmd,) = h.out("rtos.command")
    assert cmd.kind == "turn" and cmd.angle_deg == 90 and cmd.source == "dialog:s1"
    assert spoken(h) == ["OK, turning left."]
    h.tts_plays()
    assert h.out("dialog.turn")[0].outcome == "command"
    h.send("rtos.ack", RtosAck(cmd_id=cmd.cmd_id, status="accepted"))
    h.send("rtos.ack", RtosAck(cmd_id=cmd.cmd_id, status="done", by="rtos"))
    assert spoken(h)[-1] == "Done."
    assert h.traces() == {"s1"}


def test_garbled_or_out_of_bounds_intents_give_no_command_and_a_spoken_refusal():
    h = make(wake="always")
    h.utterance("s1", "fly away")
    refused = LlmReply(
        request_id="s1",
        text="",
        intent_error="The model's command was refused by the schema: kind: Input should be ...",
        refused_call='{"kind": "fly"}',
    )
    h.send("llm.reply", refused, "s1")
    h.utterance("s2", "drive forward fifty meters to the kitchen")
    h.llm_says("s2", "", intents=(CarIntent(kind="drive", distance_m=50.0),))
    h.utterance("s3", "move forward 20 meters then turn left")
    h.utterance("s4", "do a twirl")
    h.send("llm.reply", LlmReply(request_id="s4", text="", intent_error="not JSON"), "s4")
    h.utterance("s5", "turn left then fly far")
    fine_then_far = (
        CarIntent(kind="turn", angle_deg=90.0),
        CarIntent(kind="drive", distance_m=9.0),
    )
    h.llm_says("s5", "", intents=fine_then_far)
    assert h.out("rtos.command") == []
    said = spoken(h)
    assert said[0] == "Sorry, I did not understand that command."
    assert said[1].startswith("Sorry, I can't do that: 50 metres")
    assert said[2].startswith("Sorry, I can't do that: 20 metres")
    assert said[3] == "Sorry, I did not understand that command."
    assert said[4] == "Sorry, I did not understand that command."  # s5: 9 m was never said


def test_a_command_the_llm_answers_with_is_refused_unless_the_words_said_it():
    # A question's answer may call the car's tool (tools on, as on the board); the command is
    # acted on only when the words support it, as for the intent path: never a made-up amount,
    # never a kind nobody named, never what the user forbade.
    h = make(wake="always")
    for sid, said, intent in (
        ("s1", "please do a little dance for me", CarIntent(kind="turn", angle_deg=90.0)),
        ("s2", "drive to the kitchen", CarIntent(kind="drive", distance_m=2.0)),
        ("s3", "I don't want you to turn left, a wall", CarIntent(kind="turn", angle_deg=90.0)),
        ("s4", "could you go forward to the door", CarIntent(kind="drive", distance_m=0.5)),
    ):
        h.utterance(sid, said)
        h.llm_says(sid, "Sure!", intents=(intent,))
    assert h.out("rtos.command") == []
    assert spoken(h).count("Sorry, I did not understand that command.") == 4


def test_a_refused_tool_call_is_logged_with_its_reason_and_text(caplog):
    h = make(wake="always")
    h.utterance("s1", "fly away")
    call = '{"kind": "fly", "altitude_m": 3}'
    reply = LlmReply(
        request_id="s1", text="", intent_error="kind is not one I know.", refused_call=call
    )
    with caplog.at_level("WARNING", logger="workers.dialog.manager"):
        h.send("llm.reply", reply, "s1")
    (record,) = [r for r in caplog.records if r.getMessage().startswith("intent_refused")]
    assert "kind is not one I know." in record.getMessage() and "altitude_m" in record.getMessage()


def test_spoken_command_is_understood_without_the_llm_and_both_steps_are_sent():
    h = make(wake="always")
    h.utterance("s1", "Move forward one meter, then turn left.")
    assert h.out("llm.request") == []
    (drive,) = h.out("rtos.command")  # the car runs one motion at a time: the turn waits
    assert (drive.kind, drive.distance_m) == ("drive", 1.0)
    assert spoken(h) == ["OK, moving forward 1 metre, then turning left."]
    h.send("rtos.ack", RtosAck(cmd_id=drive.cmd_id, status="accepted"))
    h.send("rtos.ack", RtosAck(cmd_id=drive.cmd_id, status="started", by="rtos"))
    assert len(h.out("rtos.command")) == 1
    h.send("rtos.ack", RtosAck(cmd_id=drive.cmd_id, status="done", by="rtos"))
    _, turn = h.out("rtos.command")
    assert (turn.kind, turn.angle_deg) == ("turn", 90)
    h.send("rtos.ack", RtosAck(cmd_id=turn.cmd_id, status="done", by="rtos"))
    assert spoken(h)[-1] == "Done."
    assert len(h.out("rtos.command")) == 2


def test_a_refused_step_is_spoken_and_the_rest_of_the_plan_dropped():
    h = make(wake="always")
    h.utterance("s1", "Move forward one meter, then turn left.")
    (drive,) = h.out("rtos.command")
    h.send("rtos.ack", RtosAck(cmd_id=drive.cmd_id, status="rejected", reason="Obstacle ahead."))
    assert spoken(h)[-1] == "The car refused: Obstacle ahead."
    h.send("rtos.ack", RtosAck(cmd_id=drive.cmd_id, status="done", by="rtos"))
    assert len(h.out("rtos.command")) == 1


def test_a_newer_command_replaces_the_rest_of_an_older_plan():
    h = make(wake="always")
    h.utterance("s1", "Move forward one meter, then turn left.")
    (drive,) = h.out("rtos.command")
    h.utterance("s2", "stop")
    assert [c.kind for c in h.out("rtos.command")] == ["drive", "stop"]
    h.send("rtos.ack", RtosAck(cmd_id=drive.cmd_id, status="failed", reason="Stopped."))
    h.send("rtos.ack", RtosAck(cmd_id=drive.cmd_id, status="done"))
    assert [c.kind for c in h.out("rtos.command")] == ["drive", "stop"]
    assert not any("failed" in t for t in spoken(h))


def test_device_questions_are_answered_from_telemetry():
    h = make(wake="always")
    h.utterance("s1", "Where are you?")
    assert spoken(h) == ["I have no news from the car yet."]
    h.send(
        "rtos.telemetry",
        RtosTelemetry(state="idle", x_m=1.0, y_m=0.5, heading_deg=90, battery_pct=87),
    )
    h.utterance("s2", "What is your battery level?")
    h.utterance("s3", "你在哪里？", language="zh")
    said = spoken(h)
    assert said[1] == "My battery is at 87 percent."
    assert said[2].startswith("我在 x 1.0 米")
    assert h.out("llm.request") == []


def test_llm_worker_dying_mid_turn_gives_a_spoken_apology():
    h = make(wake="always")
    h.utterance("s1", "tell me a joke")
    h.send("sys.lifecycle", LifecycleEvent(worker="llm", event="exited", exit_code=-9))
    assert spoken(h) == ["Sorry, I can't think right now.", "Please try again."]
    h.tts_plays()
    assert h.out("dialog.turn")[0].outcome == "error"


def test_llm_silence_times_out_into_an_apology_and_an_abort():
    h = make(wake="always", llm_first_token_timeout_s=5)
    h.utterance("s1", "tell me a joke")
    h.advance(4.9)
    assert spoken(h) == []
    h.advance(0.2)
    assert h.out("llm.abort")[0].reason == "timeout"
    assert spoken(h)[0] == "Sorry, I can't think right now."
    # a late reply is ignored
    h.llm_says("s1", "Too late.")
    assert "Too late." not in spoken(h)


def test_asr_worker_dying_or_silent_after_speech_gives_an_apology():
    h = make(wake="always", asr_timeout_s=3)
    h.send("vad.state", VadState(speaking=True, segment_id="s1", at_ns=h.now_ns), "s1")
    h.send("vad.state", VadState(speaking=False, segment_id="s1", at_ns=h.now_ns), "s1")
    h.send("sys.lifecycle", LifecycleEvent(worker="asr", event="exited", exit_code=1))
    assert spoken(h)[0] == "Sorry, I did not catch that."
    h.send("vad.state", VadState(speaking=False, segment_id="s2", at_ns=h.now_ns), "s2")
    h.advance(3.1)
    assert spoken(h)[-1] == "Please say it again." and len(spoken(h)) == 4


def test_llm_error_reply_gives_an_apology():
    h = make(wake="always")
    h.utterance("s1", "hello")
    h.llm_says("s1", finish="error")
    assert spoken(h)[0] == "Sorry, I can't think right now."


def test_history_is_bounded():
    h = make(wake="always", history_max_chars=60)
    for i in range(6):
        h.utterance(f"s{i}", f"question number {i} please")
        h.llm_says(f"s{i}", f"Answer number {i}.")
        h.tts_plays()
    msgs = h.out("llm.request")[-1].messages
    assert sum(len(m.content) for m in msgs[1:]) <= 60 + len(msgs[-1].content)
    assert msgs[-1].content == "question number 5 please"


def _delta(rid: str, text: str):
    from schemas.llm import LlmDelta

    return LlmDelta(request_id=rid, index=0, text=text)


def test_a_dropped_blip_waits_for_no_transcript():
    h = make(wake="always", asr_timeout_s=1)
    h.send("vad.state", VadState(speaking=True, segment_id="s1", at_ns=h.now_ns), "s1")
    h.send("vad.state", VadState(speaking=False, segment_id="s1", at_ns=h.now_ns, dropped=True))
    h.advance(2)
    assert spoken(h) == [] and h.out("dialog.state")[-1].state == "idle"


def test_a_long_segment_split_in_parts_is_asked_again_as_a_whole():
    h = make(wake="always")
    h.utterance("s1", "tell me about the first thing")
    h.send("asr.text", AsrText(text="and the second thing", segment_id="s1"), "s1")
    first, second = h.out("llm.request")
    assert h.out("llm.abort")[0].request_id == first.request_id == "s1"
    assert second.request_id == "s1+"
    assert second.messages[-1].content == "tell me about the first thing and the second thing"
    h.llm_says("s1", "Stale answer.")
    h.llm_says("s1+", "Both things.")
    assert spoken(h) == ["Both things."]
    assert h.traces() == {"s1"}


def test_a_slow_reply_does_not_let_the_awake_window_close_under_it():
    h = make(awake_window_s=10)
    h.utterance("s1", "hey robot tell me a story")
    h.advance(25)  # the LLM is slow
    h.llm_says("s1", "Once upon a time.")
    h.tts_plays()
    h.advance(9)
    assert h.out("dialog.state")[-1].awake
    h.utterance("s2", "and then?")
    assert len(h.out("llm.request")) == 2


def test_the_llm_is_warmed_up_at_start_and_its_answer_is_never_spoken():
    h = make(wake="always")
    state, warm = h.mgr.start()
    assert state.topic == "dialog.state"  # a restarted dialog says it is no longer speaking
    assert warm.topic == "llm.request" and isinstance(warm.payload, LlmRequest)
    assert warm.payload.max_tokens == 1
    h.llm_says("warm-up", "Hi.")
    assert spoken(h) == []
    assert [o.topic for o in make(warm_up=False).mgr.start()] == ["dialog.state"]


def test_the_turn_s_bus_time_adds_every_hop_stamped_by_the_worker_that_received_it():
    from schemas.llm import LlmDelta
    from schemas.tts import TtsAudio

    h = make(wake="always")
    h.travel_s = 0.002  # each message the dialog receives: 2 ms on the bus
    h.send("vad.state", VadState(speaking=True, segment_id="s1", at_ns=h.now_ns), "s1")
    # the VAD received the frame that ended the speech after 0.375 ms
    h.send(
        "vad.state", VadState(speaking=False, segment_id="s1", at_ns=h.now_ns, bus_ms=0.375), "s1"
    )
    # the VAD and the ASR measured 1 ms for the frame and the segment they received
    h.send("asr.text", AsrText(text="hello", segment_id="s1", bus_ms=1.0), "s1")
    # the LLM received the request after 0.5 ms
    h.send("llm.delta", LlmDelta(request_id="s1", index=0, text="Hi there.", bus_ms=0.5), "s1")
    h.send("llm.reply", LlmReply(request_id="s1", text="Hi there."), "s1")
    for req in h.out("tts.request"):  # the TTS received each sentence after 0.25 ms
        audio = TtsAudio(pcm=b"\x00\x01" * 160 if req.text else b"", sample_rate_hz=16000,
                         turn_id="s1", index=req.index, final=req.final, bus_ms=0.25)  # fmt: skip
        h.send("tts.audio", audio, "s1")
    (turn,) = h.out("dialog.turn")
    # frame, segment, transcript, request, first token, first sentence, first audio
    assert turn.bus_hops == 7
    assert turn.bus_ms == pytest.approx(1.0 + 2 + 0.5 + 2 + 0.25 + 2)
    # and hop by hop, each message's time on the bus to where it was received
    assert turn.bus_detail_ms == pytest.approx({
        "audio.frame": 0.375, "vad.segment": 0.625, "asr.text": 2.0, "llm.request": 0.5,
        "llm.delta": 2.0, "tts.request": 0.25, "tts.audio": 2.0,
    })  # fmt: skip
    assert sum(turn.bus_detail_ms.values()) == pytest.approx(turn.bus_ms)
