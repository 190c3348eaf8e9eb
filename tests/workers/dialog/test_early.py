"""Asking the LLM with the transcript of the pause, and the reply's first clause."""

from __future__ import annotations

import itertools

from schemas.asr import AsrPartial, AsrText
from schemas.llm import LlmAbort, LlmDelta, LlmReply
from schemas.vad import VadResumed, VadState
from tests.workers.dialog.harness import make


def pause(h, seg: str, text: str, revision: int = 0) -> None:
    h.send("asr.partial", AsrPartial(text=text, segment_id=seg, revision=revision), seg)


def spoken(h) -> list[str]:
    return [r.text for r in h.out("tts.request") if r.text]


def start(h, seg: str = "s1") -> None:
    h.send("vad.state", VadState(speaking=True, segment_id=seg, at_ns=h.now_ns), seg)
    h.send("vad.state", VadState(speaking=False, segment_id=seg, at_ns=h.now_ns), seg)


def test_the_pause_asks_the_llm_and_nothing_is_said_until_the_segment_closes_the_same():
    h = make(wake="always")
    start(h)
    pause(h, "s1", "What is the capital of France?")
    (req,) = h.out("llm.request")
    assert req.request_id == "s1~0" and req.messages[-1].content == "What is the capital of France?"
    h.send("llm.delta", LlmDelta(request_id="s1~0", index=0, text="Paris is the capital. It"), "")
    h.send("llm.delta", LlmDelta(request_id="s1~0", index=1, text=" is big."), "")
    h.send("llm.reply", LlmReply(request_id="s1~0", text="Paris is the capital. It is big."), "")
    assert spoken(h) == []  # held: the user may not be done
    h.send("asr.text", AsrText(text="What is the capital of France?", segment_id="s1",
                               speculative=True), "s1")  # fmt: skip
    assert len(h.out("llm.request")) == 1  # taken over, not asked again
    assert spoken(h) == ["Paris is the capital.", "It is big."]
    h.tts_plays()
    (turn,) = h.out("dialog.turn")
    assert turn.outcome == "answered" and turn.speculative and turn.llm_ttft_ms == 0.0


def test_words_that_went_on_abort_the_early_request_and_ask_again():
    h = make(wake="always")
    start(h)
    pause(h, "s1", "Tell me a story")
    pause(h, "s1", "Tell me a story about a cat.", revision=1)  # a newer pause replaces it
    text = "Tell me a story about a cat and a dog."
    h.send("asr.text", AsrText(text=text, segment_id="s1"), "s1")
    reqs = [r.request_id for r in h.out("llm.request")]
    aborts = [a.request_id for a in h.out("llm.abort")]
    assert reqs == ["s1~0", "s1~1", "s1"] and aborts == ["s1~0", "s1~1"]
    h.send("llm.delta", LlmDelta(request_id="s1~1", index=0, text="Late. "), "")
    assert spoken(h) == []  # the aborted request's output is never spoken
    h.llm_says("s1", "A cat sat down.")
    assert spoken(h) == ["A cat sat down."]


def test_speech_that_goes_on_after_the_pause_aborts_its_early_request_at_once():
    h = make(wake="always")
    h.send("vad.state", VadState(speaking=True, segment_id="s1", at_ns=h.now_ns), "s1")
    pause(h, "s1", "No no no.")
    pause(h, "s2", "What time is it?")  # another segment's request is not touched
    h.send("vad.resumed", VadResumed(segment_id="s1", revision=0, at_ns=h.now_ns), "s1")
    assert [a.request_id for a in h.out("llm.abort")] == ["s1~0"]
    assert [a.reason for a in h.out("llm.abort")] == ["newer pause"]  # s2's replaced s1's
    h = make(wake="always")
    h.send("vad.state", VadState(speaking=True, segment_id="s1", at_ns=h.now_ns), "s1")
    pause(h, "s1", "No no no.")
    h.send("vad.resumed", VadResumed(segment_id="s1", revision=0, at_ns=h.now_ns), "s1")
    ((abort, trace),) = [(p, tr) for t, p, tr in h.seen if isinstance(p, LlmAbort)]
    assert (abort.request_id, abort.reason, trace) == ("s1~0", "speech resumed", "s1")
    h.send("llm.delta", LlmDelta(request_id="s1~0", index=0, text="No? "), "")
    pause(h, "s1", "No no no, stop!", revision=1)  # STOP; never asked of the LLM
    h.send("asr.text", AsrText(text="No no no, stop!", segment_id="s1", speculative=True), "s1")
    assert [c.kind for c in h.out("rtos.command")] == ["stop"]
    assert [r.request_id for r in h.out("llm.request")] == ["s1~0"] and "No?" not in spoken(h)


def test_a_pause_transcript_that_comes_after_the_speech_went_on_is_not_asked_early():
    h = make(wake="always")
    h.send("vad.state", VadState(speaking=True, segment_id="s1", at_ns=h.now_ns), "s1")
    # the user said "stop" while the ASR decoded the pause after "No no no"
    h.send("vad.resumed", VadResumed(segment_id="s1", revision=0, at_ns=h.now_ns), "s1")
    pause(h, "s1", "No no no.")
    assert h.out("llm.request") == [] and h.out("llm.abort") == []
    pause(h, "s1", "No no no, what time is it?", revision=1)  # the next pause is asked
    assert [r.request_id for r in h.out("llm.request")] == ["s1~1"]
    h.send("vad.resumed", VadResumed(segment_id="s2", revision=0, at_ns=h.now_ns), "s2")
    pause(h, "s2", "Stop!")  # a stop word in such a pause still stops the car at once
    assert [c.kind for c in h.out("rtos.command")] == ["stop"]


def test_a_resumption_older_than_the_pause_asked_about_keeps_its_request():
    h = make(wake="always")
    pause(h, "s1", "Tell me a story.", revision=1)
    h.send("vad.resumed", VadResumed(segment_id="s1", revision=0, at_ns=h.now_ns), "s1")
    h.send("vad.resumed", VadResumed(segment_id="s9", revision=1, at_ns=h.now_ns), "s9")
    assert h.out("llm.abort") == []
    h.send("asr.text", AsrText(text="Tell me a story.", segment_id="s1", speculative=True), "s1")
    assert [r.request_id for r in h.out("llm.request")] == ["s1~1"]  # taken over


def test_no_early_request_for_commands_device_questions_or_when_asleep():
    h = make(wake="always")
    pause(h, "s1", "Turn left.")
    pause(h, "s2", "Where are you?")
    assert h.out("llm.request") == []
    asleep = make()
    pause(asleep, "s1", "What time is it?")
    assert asleep.out("llm.request") == []
    pause(asleep, "s2", "Hey robot, what time is it?")
    assert [r.request_id for r in asleep.out("llm.request")] == ["s2~0"]
    assert not asleep.out("dialog.state") or not asleep.out("dialog.state")[-1].awake  # not yet


def test_the_first_clause_goes_to_the_tts_before_its_sentence_ends():
    h = make(wake="always")
    h.utterance("s1", "tell me about Paris")
    h.send("llm.delta", LlmDelta(request_id="s1", index=0, text="Well, Paris, the capital"), "s1")
    assert spoken(h) == ["Well, Paris,"]  # "Well," is shorter than first_clause_chars
    h.send("llm.delta", LlmDelta(request_id="s1", index=1, text=" of France, is big. Yes."), "s1")
    h.send("llm.reply", LlmReply(request_id="s1", text=""), "s1")
    assert spoken(h) == ["Well, Paris,", "the capital of France, is big.", "Yes."]
    whole = make(wake="always", first_clause_chars=0)
    whole.utterance("s1", "tell me about Paris")
    whole.send("llm.delta", LlmDelta(request_id="s1", index=0, text="Well, Paris, the"), "s1")
    assert spoken(whole) == []


def test_the_history_is_cut_to_half_its_budget_so_the_prompt_keeps_its_prefix_for_turns():
    h = make(wake="always", history_max_chars=400)
    prompts = []
    for i in range(12):
        seg = f"s{i}"
        h.utterance(seg, f"question number {i} about something long enough to count")
        h.llm_says(seg, f"Answer number {i} is a sentence of some length, too.")
        h.tts_plays()
        prompts.append([x.content for x in h.out("llm.request")[-1].messages[1:-1]])
    # a prompt's history is the previous prompt's plus its exchange, except at a cut
    cuts = sum(1 for a, b in itertools.pairwise(prompts) if b[: len(a)] != a)
    assert 1 <= cuts <= 4 and max(sum(len(c) for c in p) for p in prompts) <= 400


def test_words_that_trail_off_are_not_asked_early():
    h = make(wake="always")
    pause(h, "s1", "Tell me about the,")
    pause(h, "s1", "Tell me about the weather and", revision=1)
    assert h.out("llm.request") == []
    pause(h, "s2", "Can you tell me?")  # a clause that asks for what follows, punctuated
    assert h.out("llm.request") == []
    pause(h, "s1", "Tell me about the weather.", revision=2)
    assert [r.request_id for r in h.out("llm.request")] == ["s1~2"]


def test_a_command_like_utterance_is_asked_for_its_intent_only_when_the_segment_closes():
    h = make(wake="always")
    start(h)
    pause(h, "s1", "forward drive two meters and back one meter")
    pause(h, "s2", "Go back at the meter.")  # a refusal: no LLM at all
    assert h.out("llm.request") == []  # an intent request is never sent early
    h.send("asr.text", AsrText(text="forward drive two meters and back one meter",
                               segment_id="s1", speculative=True), "s1")  # fmt: skip
    (req,) = h.out("llm.request")
    assert req.request_id == "s1" and req.intent_schema


def test_an_early_question_is_dropped_when_the_closed_segment_is_a_command():
    h = make(wake="always")
    start(h)
    pause(h, "s1", "What is")
    (early,) = h.out("llm.request")
    h.send("asr.text", AsrText(text="Turn left.", segment_id="s1"), "s1")
    assert [a.request_id for a in h.out("llm.abort")] == [early.request_id]
    assert [c.kind for c in h.out("rtos.command")] == ["turn"] and len(h.out("llm.request")) == 1


def test_a_question_that_trails_off_only_by_a_comma_is_asked_early():
    h = make(wake="always")
    pause(h, "s1", "What's your name,")  # Whisper's comma after a whole question
    assert [r.request_id for r in h.out("llm.request")] == ["s1~0"]


def test_the_llm_is_asked_without_the_comma_the_pause_ended_the_words_with():
    h = make(wake="always")
    start(h)
    pause(h, "s1", "What's your name,")
    h.send("asr.text", AsrText(text="What's your name,", segment_id="s1", speculative=True), "s1")
    (req,) = h.out("llm.request")
    assert req.messages[-1].content == "What's your name"  # not a phrase for the model to go on
    h.llm_says("s1~0", "I am Robo.")
    h.tts_plays()
    pause(h, "s2", "And yours?")
    later = h.out("llm.request")[-1]
    assert [m.content for m in later.messages[1:3]] == ["What's your name", "I am Robo."]


def test_an_answer_that_copies_an_earlier_one_is_not_kept_in_the_history():
    dragon = "The dragon is a legendary creature with the body of a lion and the head of an eagle."
    horn = "The horn is a legendary creature with the body of a lion and the head of an eagle."
    h = make(wake="always")
    for seg, asked, answer in (("s1", "Tell me about dragons.", dragon),
                               ("s2", "What is a horn?", horn)):  # fmt: skip
        start(h, seg)
        h.send("asr.text", AsrText(text=asked, segment_id=seg), seg)
        h.llm_says(seg, answer)
        h.tts_plays()
    assert " ".join(spoken(h)[-2:]) == horn  # said, as the model wrote it
    start(h, "s3")
    h.send("asr.text", AsrText(text="And a cat?", segment_id="s3"), "s3")
    history = [m.content for m in h.out("llm.request")[-1].messages[1:-1]]
    assert history == ["Tell me about dragons.", dragon]  # the copy would be copied again


def test_a_long_first_sentence_without_a_comma_starts_at_a_word_boundary():
    h = make(wake="always")
    start(h)
    h.send("asr.text", AsrText(text="Tell me a story.", segment_id="s1"), "s1")
    text = "The story of a legendary creature with the body of a"
    h.send("llm.delta", LlmDelta(request_id="s1", index=0, text=text), "")
    assert spoken(h) == ["The story of a legendary creature with the body"]
