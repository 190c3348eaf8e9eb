"""A lost TTS, speaker or bus proxy costs the user nothing but a moment: what they did not hear
is said again, a reply being streamed is asked for again, an awaited transcript is apologised
for soon."""

from __future__ import annotations

from schemas.asr import AsrPartial, AsrText
from schemas.llm import LlmDelta
from schemas.rtos import CarIntent
from schemas.speaker import SpeakerReport
from schemas.system import LifecycleEvent
from schemas.tts import TtsAudio
from schemas.vad import VadState
from tests.workers.dialog.harness import Harness, make


def spoken(h: Harness) -> list[str]:
    return [r.text for r in h.out("tts.request") if r.text]


def lifecycle(h: Harness, worker: str, event: str, **fields) -> None:
    h.send("sys.lifecycle", LifecycleEvent(worker=worker, event=event, **fields))  # type: ignore[arg-type]


def audio(h: Harness, turn_id: str, index: int, seconds: float, final: bool = False) -> None:
    pcm = b"\x00\x00" * int(16000 * seconds)
    msg = TtsAudio(pcm=pcm, sample_rate_hz=16000, turn_id=turn_id, index=index, final=final)
    h.send("tts.audio", msg, turn_id)


def test_sentences_the_dead_tts_had_not_synthesized_are_sent_again_once_it_is_back():
    h = make(wake="always", tts_timeout_s=5)
    h.utterance("s1", "tell me about the sea")
    h.llm_says("s1", "The sea is big. It is blue. It is deep.")
    audio(h, "s1", 0, 1.0)
    lifecycle(h, "tts", "exited", exit_code=-9)
    lifecycle(h, "tts", "restarting")
    h.advance(6)  # longer than tts_timeout_s: the turn waits for the TTS, not for the timeout
    assert h.out("dialog.turn") == []
    h.clear()
    lifecycle(h, "tts", "ready")
    again = h.out("tts.request")
    assert [(r.index, r.text, r.final) for r in again] == [
        (1, "It is blue.", False),
        (2, "It is deep.", True),
    ]
    audio(h, "s1", 1, 1.0)
    audio(h, "s1", 2, 1.0, final=True)
    assert h.out("dialog.turn")[0].outcome == "answered"


def test_what_the_dead_speaker_had_not_played_is_said_again_from_the_sentence_it_was_in():
    h = make(wake="always")
    h.utterance("s1", "tell me about the sea")
    h.llm_says("s1", "The sea is big. It is blue. It is deep.")
    for i in range(3):
        audio(h, "s1", i, 1.0, final=i == 2)
    h.send("speaker.report", SpeakerReport(turn_id="s1", event="started"), "s1")
    h.now_ns += 1_500_000_000  # half way through the second sentence
    lifecycle(h, "speaker", "exited", exit_code=-9)
    h.now_ns += 800_000_000
    h.clear()
    lifecycle(h, "speaker", "ready")
    assert spoken(h) == ["It is blue.", "It is deep."]
    reqs = h.out("tts.request")
    assert [r.index for r in reqs] == [3, 4, 5] and reqs[-1].final and not reqs[-1].text
    assert h.out("dialog.state")[-1].state == "speaking"
    h.tts_plays()
    h.send("speaker.report", SpeakerReport(turn_id="s1", event="started"), "s1")
    h.send("speaker.report", SpeakerReport(turn_id="s1", event="finished"), "s1")
    assert h.out("dialog.state")[-1].state == "idle"


def test_a_hung_speaker_is_counted_from_when_it_went_silent():
    h = make(wake="always")
    h.utterance("s1", "tell me about the sea")
    h.llm_says("s1", "The sea is big. It is blue. It is deep.")
    for i in range(3):
        audio(h, "s1", i, 1.0, final=i == 2)
    h.send("speaker.report", SpeakerReport(turn_id="s1", event="started"), "s1")
    h.now_ns += 4_500_000_000  # stopped at 0.5 s, declared hung 4 s later
    lifecycle(h, "speaker", "hung", silent_s=4.0)
    h.clear()
    lifecycle(h, "speaker", "ready")
    assert spoken(h) == ["The sea is big.", "It is blue.", "It is deep."]


def test_a_barged_in_turn_is_never_said_again():
    h = make(wake="always")
    h.utterance("s1", "tell me about the sea")
    h.llm_says("s1", "The sea is big. It is blue.")
    audio(h, "s1", 0, 1.0)
    h.send("speaker.report", SpeakerReport(turn_id="s1", event="started"), "s1")
    h.send("vad.state", VadState(speaking=True, segment_id="s2", at_ns=h.now_ns), "s2")
    lifecycle(h, "speaker", "exited", exit_code=-9)
    lifecycle(h, "tts", "exited", exit_code=-9)
    h.clear()
    lifecycle(h, "speaker", "ready")
    lifecycle(h, "tts", "ready")
    assert h.out("tts.request") == []


def test_after_a_bus_outage_the_reply_being_streamed_is_asked_for_again():
    h = make(wake="always")
    h.utterance("s1", "tell me a story")
    h.send("llm.delta", LlmDelta(request_id="s1", index=0, text="Once upon a time. A"), "s1")
    h.clear()
    lifecycle(h, "proxy", "exited", exit_code=-9, silent_s=0.6)
    (abort,) = h.out("llm.abort")
    (again,) = h.out("llm.request")
    assert abort.request_id == "s1" and again.request_id == "s1+"
    h.llm_says("s1+", "Once upon a time. A robot lived.")
    assert spoken(h) == ["A robot lived."]


def test_after_a_bus_outage_an_awaited_transcript_is_apologised_for_within_the_grace():
    h = make(wake="always", asr_timeout_s=30, outage_grace_s=5)
    h.send("vad.state", VadState(speaking=True, segment_id="s1", at_ns=h.now_ns), "s1")
    h.send("vad.state", VadState(speaking=False, segment_id="s1", at_ns=h.now_ns), "s1")
    lifecycle(h, "proxy", "exited", exit_code=-9, silent_s=0.6)
    h.advance(4.9)
    assert spoken(h) == []
    h.advance(0.2)
    assert spoken(h)[0] == "Sorry, I did not catch that."


def test_after_a_bus_outage_sentences_whose_audio_never_came_are_sent_again():
    h = make(wake="always", resend_grace_s=1.5)
    h.utterance("s1", "hello")
    h.llm_says("s1", "Hello there. Nice to meet you. Bye.")
    audio(h, "s1", 0, 1.0)
    lifecycle(h, "proxy", "exited", exit_code=-9, silent_s=0.6)
    h.advance(1.0)
    audio(h, "s1", 1, 1.0)  # one more arrives in time, the last one never does
    h.clear()
    h.advance(0.6)
    assert [(r.index, r.text, r.final) for r in h.out("tts.request")] == [(2, "Bye.", True)]


def test_a_turn_whose_end_of_playback_was_lost_stops_counting_as_playing():
    h = make(wake="always")
    h.utterance("s1", "hello")
    h.llm_says("s1", "Hi.")
    audio(h, "s1", 0, 1.0, final=True)
    h.send("speaker.report", SpeakerReport(turn_id="s1", event="started"), "s1")
    h.advance(2.0)
    assert h.mgr.assistant_talking()
    h.advance(2.5)  # its one second of audio, and the margin, are long over
    assert not h.mgr.assistant_talking()


def test_a_vad_lost_in_the_middle_of_an_utterance_gives_an_apology_while_awake():
    h = make(awake_window_s=30)
    h.utterance("s1", "Hey robot, hello")
    h.tts_plays()
    h.send("vad.state", VadState(speaking=True, segment_id="s2", at_ns=h.now_ns), "s2")
    h.clear()
    lifecycle(h, "vad", "hung", silent_s=3.0)
    assert spoken(h)[0] == "Sorry, I did not catch that."
    lifecycle(h, "vad", "exited", exit_code=-9)
    assert len(h.out("dialog.turn")) == 0 and spoken(h).count("Sorry, I did not catch that.") == 1


def test_a_done_ack_lost_with_the_car_s_gateway_is_inferred_from_telemetry():
    from schemas.rtos import RtosTelemetry

    h = make(wake="always")
    h.utterance("s1", "Move forward one meter, then turn left.")
    (drive,) = h.out("rtos.command")
    lifecycle(h, "rtgw", "exited", exit_code=-9)  # its "started" and "done" are lost with it
    h.send("rtos.telemetry", RtosTelemetry(state="moving", active_cmd_id=drive.cmd_id))
    assert len(h.out("rtos.command")) == 1
    h.send("rtos.telemetry", RtosTelemetry(state="idle", active_cmd_id=0))
    _, turn = h.out("rtos.command")
    assert turn.kind == "turn"


# --- the producers of issue 13's topics: a pause's transcript, an early request -------------


def _pause(h: Harness, seg: str, text: str, *, end_ns: int, revision: int = 0) -> None:
    """The user paused after ``text`` (speech ended at ``end_ns``): VAD start, the ASR's
    transcript of the pause (``asr.partial``)."""
    h.send("vad.state", VadState(speaking=True, segment_id=seg, at_ns=end_ns - 10**9), seg)
    p = AsrPartial(text=text, segment_id=seg, revision=revision, speech_end_ns=end_ns)
    h.send("asr.partial", p, seg)


def _closed(h: Harness, seg: str, end_ns: int) -> None:
    h.send("vad.state", VadState(speaking=False, segment_id=seg, at_ns=end_ns), seg)


def test_an_asr_lost_after_the_pause_s_transcript_answers_the_closed_segment_from_it():
    h = make(wake="always", early_answers=False)
    end = h.now_ns
    _pause(h, "s1", "Tell me a joke.", end_ns=end)
    _closed(h, "s1", end)  # the segment holds no more speech than the pause
    lifecycle(h, "asr", "exited", exit_code=-9)
    (req,) = h.out("llm.request")
    assert req.request_id == "s1" and req.messages[-1].content == "Tell me a joke."
    h.llm_says("s1", "Why did the robot cross the road?")
    h.tts_plays()
    (turn,) = h.out("dialog.turn")
    assert turn.outcome == "answered" and turn.speculative
    assert "Sorry, I did not catch that." not in spoken(h)


def test_a_segment_closed_while_the_asr_is_down_is_answered_from_its_pause_s_transcript():
    h = make(wake="always", early_answers=False)
    end = h.now_ns
    _pause(h, "s1", "Turn left.", end_ns=end)
    lifecycle(h, "asr", "exited", exit_code=-9)  # the segment is still open: nothing owed yet
    assert h.out("rtos.command") == [] and spoken(h) == []
    _closed(h, "s1", end)  # closes while the ASR restarts: its vad.segment is lost
    assert [c.kind for c in h.out("rtos.command")] == ["turn"]
    lifecycle(h, "asr", "ready")
    h.send("asr.text", AsrText(text="Turn left.", segment_id="s1"), "s1")  # a spare got it
    assert [c.kind for c in h.out("rtos.command")] == ["turn"]  # not acted on twice


def test_a_segment_closed_while_the_asr_is_down_without_a_whole_partial_gets_the_grace():
    h = make(wake="always", early_answers=False, asr_timeout_s=30, outage_grace_s=5)
    end = h.now_ns
    _pause(h, "s1", "Tell me", end_ns=end)
    lifecycle(h, "asr", "hung", silent_s=1.0)
    _closed(h, "s1", end + 800_000_000)  # the user went on after the pause
    assert h.out("llm.request") == []
    h.advance(4.9)
    assert spoken(h) == []
    h.advance(0.2)  # not asr_timeout_s (30 s): the ASR was down when it closed
    assert spoken(h)[0] == "Sorry, I did not catch that."


def test_a_vad_lost_after_the_pause_s_transcript_aborts_the_early_request_and_apologises():
    h = make(wake="always")
    end = h.now_ns
    _pause(h, "s1", "What is the capital of France?", end_ns=end)
    assert [r.request_id for r in h.out("llm.request")] == ["s1~0"]
    lifecycle(h, "vad", "exited", exit_code=-9)  # the segment never closes
    assert [a.request_id for a in h.out("llm.abort")] == ["s1~0"] and h.mgr.early is None
    assert spoken(h)[0] == "Sorry, I did not catch that."
    late = AsrPartial(text="What is the capital of France?", segment_id="s1", revision=1)
    h.send("asr.partial", late, "s1")  # a transcript of the lost segment that was under way
    assert len(h.out("llm.request")) == 1  # no early request for a segment given up


def test_an_llm_lost_with_an_early_request_in_flight_is_asked_again_with_the_transcript():
    h = make(wake="always")
    end = h.now_ns
    _pause(h, "s1", "What is the capital of France?", end_ns=end)
    h.send("llm.delta", LlmDelta(request_id="s1~0", index=0, text="Paris is"), "s1")
    lifecycle(h, "llm", "exited", exit_code=-9)
    lifecycle(h, "llm", "ready")
    _closed(h, "s1", end)
    text = AsrText(text="What is the capital of France?", segment_id="s1", speculative=True)
    h.send("asr.text", text, "s1")
    assert [r.request_id for r in h.out("llm.request")] == ["s1~0", "s1"]  # asked again
    h.llm_says("s1", "Paris.")
    assert spoken(h) == ["Paris."]  # not what the dead LLM had begun


def test_after_a_bus_outage_an_early_request_is_aborted_and_the_turn_asks_again():
    h = make(wake="always")
    end = h.now_ns
    _pause(h, "s1", "What is the capital of France?", end_ns=end)
    h.send("llm.delta", LlmDelta(request_id="s1~0", index=0, text="Paris is"), "s1")
    lifecycle(h, "proxy", "exited", exit_code=-9, silent_s=0.6)  # the next deltas are lost
    assert [a.request_id for a in h.out("llm.abort")] == ["s1~0"]
    _closed(h, "s1", end)
    text = AsrText(text="What is the capital of France?", segment_id="s1", speculative=True)
    h.send("asr.text", text, "s1")
    assert [r.request_id for r in h.out("llm.request")] == ["s1~0", "s1"]
    h.llm_says("s1", "Paris.")
    assert spoken(h) == ["Paris."]


def test_after_a_bus_outage_an_intents_only_request_is_asked_again_as_one():
    h = make(wake="always")
    h.utterance("s1", "left ninety degrees turn")
    (first,) = h.out("llm.request")
    lifecycle(h, "proxy", "exited", exit_code=-9, silent_s=0.6)
    _, again = h.out("llm.request")
    assert again.request_id == "s1+" and again.intent_schema == first.intent_schema
    h.llm_says("s1+", '[{"kind":"turn","angle_deg":90.0}]',
               intents=(CarIntent(kind="turn", angle_deg=90.0),))  # fmt: skip
    assert [c.kind for c in h.out("rtos.command")] == ["turn"]
    assert all("kind" not in s for s in spoken(h))


def test_a_reply_asked_again_says_only_the_rest_of_a_sentence_whose_first_clause_was_heard():
    h = make(wake="always", first_clause_chars=8)
    h.utterance("s1", "what is the capital of France")
    delta = LlmDelta(request_id="s1", index=0, text="Paris is the capital of France, and")
    h.send("llm.delta", delta, "s1")
    assert spoken(h) == ["Paris is the capital of France,"]
    lifecycle(h, "proxy", "exited", exit_code=-9, silent_s=0.6)
    h.llm_says("s1+", "Paris is the capital of France, and it is big. Bye.")
    assert spoken(h) == ["Paris is the capital of France,", "and it is big.", "Bye."]


def test_asleep_a_segment_closed_after_the_asr_gave_up_for_good_stays_quiet():
    h = make(early_answers=False, outage_grace_s=5)  # asleep
    lifecycle(h, "asr", "gave_up")
    end = h.now_ns
    h.send("vad.state", VadState(speaking=True, segment_id="s1", at_ns=end - 10**9), "s1")
    _closed(h, "s1", end)
    h.advance(5.1)
    assert spoken(h) == [] and "s1" not in h.mgr.pending  # given up, quietly (not a fault's loss)
