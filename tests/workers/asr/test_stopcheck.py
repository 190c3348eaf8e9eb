"""The second opinion on short audio: a stop word only the check recogniser heard is honoured."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from workers.asr.settings import AsrSettings
from workers.asr.stopcheck import StopChecked, heard_stop
from workers.asr.transcript import Transcript

RATE = 16000


@dataclass
class Scripted:
    """A recogniser that answers with the texts it was given, in turn, and records its calls."""

    texts: list[str]
    name: str = "scripted"
    max_samples: int = 30 * RATE
    calls: list[tuple[int, bool]] = field(default_factory=list)
    closed: bool = False
    loops: bool = False  # a partial's transcript is a loop's first turn

    def transcribe(self, samples: np.ndarray, *, partial: bool = False) -> Transcript:
        self.calls.append((len(samples), partial))
        text = self.texts.pop(0)
        return Transcript(text=text, language="en" if text else "", loop_cut=partial and self.loops)

    def close(self) -> None:
        self.closed = True


def audio(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.float32)


@pytest.mark.parametrize(
    ("text", "stop"),
    [
        ("Halt!", True),
        ("start moving", True),  # a lone sound-alike: the dialog reads it as a stop
        ("don't move", True),
        ("停车", True),
        ("start the story", False),
        ("up, please", False),
        ("", False),
    ],
)
def test_heard_stop_is_what_the_dialog_stops_for(text: str, stop: bool) -> None:
    assert heard_stop(text) is stop


def test_a_stop_word_only_the_check_heard_answers_with_the_checks_transcript(
    caplog: pytest.LogCaptureFixture,
) -> None:
    main, check = (
        Scripted(["up, please"], "whisper-tiny.en"),
        Scripted(["Halt, please."], "b", loops=True),
    )
    rec = StopChecked(main, check, max_audio_s=2.5)
    with caplog.at_level(logging.INFO, logger="workers.asr.stopcheck"):
        out = rec.transcribe(audio(1.2), partial=True)
    assert (out.text, out.checked_from) == ("Halt, please.", "up, please")
    assert out.loop_cut  # the check's own transcript, its flags included
    assert main.calls == check.calls == [(int(1.2 * RATE), True)]
    assert (rec.checked, rec.stops, rec.name) == (1, 1, "whisper-tiny.en")
    assert "'up, please'" in caplog.text and "'Halt, please.'" in caplog.text


def test_without_a_stop_word_in_the_check_the_main_transcript_stands() -> None:
    main, check = Scripted(["turn left"]), Scripted(["turn left."])
    rec = StopChecked(main, check, max_audio_s=2.5)
    out = rec.transcribe(audio(1.0))
    assert (out.text, out.checked_from) == ("turn left", "")
    assert (rec.checked, rec.stops) == (1, 0)


def test_the_check_is_not_asked_when_the_main_heard_a_stop_or_the_audio_is_long() -> None:
    main, check = Scripted(["stop the car", "start moving", "what's the weather"]), Scripted([])
    rec = StopChecked(main, check, max_audio_s=2.5)
    assert rec.transcribe(audio(1.0)).text == "stop the car"
    assert rec.transcribe(audio(1.0)).text == "start moving"
    assert rec.transcribe(audio(2.6)).text == "what's the weather"
    assert check.calls == [] and rec.checked == 0


def test_at_exactly_max_audio_s_the_check_is_asked() -> None:
    main, check = Scripted(["pulse,"]), Scripted(["Halt!"])
    assert StopChecked(main, check, max_audio_s=2.5).transcribe(audio(2.5)).text == "Halt!"


def test_closing_closes_both() -> None:
    main, check = Scripted([]), Scripted([])
    StopChecked(main, check, 1.0).close()
    assert main.closed and check.closed


def test_the_settings_refuse_a_check_by_the_main_model_or_an_english_check_of_chinese() -> None:
    ok = AsrSettings.model_validate(
        {"language": "en", "whisper": {"model": "tiny.en"}, "stop_check": {"model": "base"}}
    )
    assert ok.stop_check is not None and ok.stop_check.max_audio_s == 2.5
    assert AsrSettings().stop_check is None
    with pytest.raises(ValidationError, match="the main model too"):
        AsrSettings.model_validate({"whisper": {"model": "base"}, "stop_check": {}})
    with pytest.raises(ValidationError, match="English-only"):
        AsrSettings.model_validate({"language": "zh", "stop_check": {"model": "tiny.en"}})
    with pytest.raises(ValidationError, match="max_audio_s"):
        AsrSettings.model_validate(
            {"whisper": {"model": "tiny.en"}, "stop_check": {"max_audio_s": 0}}
        )
    with pytest.raises(ValidationError, match="extra"):
        AsrSettings.model_validate({"whisper": {"model": "tiny.en"}, "stop_check": {"modle": 1}})
    for bad in ({"alternatives": 6}, {"alternatives": -1}, {"alternatives_margin": 0}):
        with pytest.raises(ValidationError, match="alternatives"):
            AsrSettings.model_validate({"whisper": {"model": "tiny.en"}, "stop_check": bad})


def test_a_check_transcript_of_more_than_max_words_is_not_a_stop() -> None:
    main, check = Scripted(["I stopped by the shop"]), Scripted(["I stop by the shop"])
    rec = StopChecked(main, check, max_audio_s=2.5, max_words=4)
    assert rec.transcribe(audio(2.0)).text == "I stopped by the shop"
    assert (rec.checked, rec.stops) == (1, 0)
    with pytest.raises(ValueError, match="max_words"):
        StopChecked(main, check, 2.5, max_words=0)


# --- in the worker: the main transcript of a pause goes out first, the check's after ---------


@dataclass
class Rig:
    """The asr worker's node on a memory bus, a VAD that feeds it, a probe on ``asr.*``, and a
    1.5 s segment (revision 0 of its partial)."""

    settings: AsrSettings
    segment: Any
    worker: Any
    vad: Any
    probe: Any

    def pause(self) -> Any:
        from tests.workers.asr.test_asr_worker import partial_from

        return partial_from(self.segment)

    def heard(self) -> list[tuple[str, Any]]:
        return [(m.topic, m.payload) for m in self.probe]


def _rig() -> Rig:
    from bus import MemoryBus
    from schemas.vad import VadSegment
    from workers.asr.manifest import MANIFEST

    settings = AsrSettings.model_validate(
        {"language": "en", "whisper": {"model": "tiny.en"}, "stop_check": {}}
    )
    pcm = np.zeros(int(1.5 * RATE), dtype="<i2").tobytes()
    seg = VadSegment(pcm=pcm, segment_id="s1", start_ns=0, end_ns=1, partial_revision=0)
    bus = MemoryBus()
    worker = bus.node("asr", settings.model_dump(mode="json"), manifest=MANIFEST)
    vad, probe = bus.node("vad"), bus.node("probe")
    probe.subscribe("asr.*")
    return Rig(settings, seg, worker, vad, probe)


def _worker_run(main_texts: list[str], check_texts: list[str]) -> tuple[list, Scripted]:
    from workers.asr.__main__ import serve
    from workers.asr.speculative import Speculation

    rig = _rig()
    rig.probe.subscribe("sys.metric")
    main, check = Scripted(main_texts, "whisper-tiny.en"), Scripted(check_texts, "whisper-base")
    rec = StopChecked(main, check, max_audio_s=2.5)
    spec = Speculation()
    rig.vad.publish("vad.partial", rig.pause(), trace="s1")
    serve(rig.worker, rec, rig.settings, spec)
    rig.vad.publish("vad.segment", rig.segment, trace="s1")
    serve(rig.worker, rec, rig.settings, spec)
    return [
        (t, p) for t, p in rig.heard() if t != "sys.metric" or p.name.startswith("asr_stop")
    ], check


def test_the_worker_publishes_the_pauses_main_transcript_then_the_checks_stop() -> None:
    got, check = _worker_run(["up, please"], ["Halt, please."])
    (metric,) = [p for t, p in got if t == "sys.metric"]  # the check's time, with its verdict
    assert (metric.labels["stop"], metric.labels["backend"]) == ("true", "whisper-base")
    got = [(t, p) for t, p in got if t != "sys.metric"]
    assert [(t, p.text, p.backend) for t, p in got] == [
        ("asr.partial", "up, please", "whisper-tiny.en"),
        ("asr.partial", "Halt, please.", "whisper-base"),  # the dialog sends STOP on it
        ("asr.text", "Halt, please.", "whisper-base"),  # the segment, answered with it
    ]
    assert got[1][1].revision == got[0][1].revision == 0 and got[2][1].speculative
    assert len(check.calls) == 1


def test_the_worker_publishes_nothing_more_when_the_check_hears_no_stop() -> None:
    got, check = _worker_run(["turn left"], ["turn left."])
    assert [p.labels["stop"] for t, p in got if t == "sys.metric"] == ["false"]
    got = [(t, p) for t, p in got if t != "sys.metric"]
    assert [(t, p.text) for t, p in got] == [
        ("asr.partial", "turn left"),
        ("asr.text", "turn left"),
    ]
    assert len(check.calls) == 1


def test_a_segment_that_closes_while_the_check_runs_is_answered_at_once() -> None:
    """The check runs in its own thread: the segment does not wait for it, and the check's stop
    partial follows the ``asr.text`` (the dialog sends STOP on it all the same)."""
    import threading

    from schemas.asr import AsrText
    from schemas.vad import VadSegment
    from workers.asr.__main__ import serve
    from workers.asr.speculative import Speculation

    answered = threading.Event()

    class Spec(Speculation):
        def take(self, segment: VadSegment, *, bus_ms: float = 0.0) -> AsrText | None:
            try:
                return super().take(segment, bus_ms=bus_ms)
            finally:
                answered.set()

    class SlowCheck(Scripted):
        def transcribe(self, samples: np.ndarray, *, partial: bool = False) -> Transcript:
            assert answered.wait(10), "the segment waited for the check"
            return super().transcribe(samples, partial=partial)

    rig = _rig()

    class Main(Scripted):
        def transcribe(self, samples: np.ndarray, *, partial: bool = False) -> Transcript:
            rig.vad.publish("vad.segment", rig.segment, trace="s1")  # it closes meanwhile
            return super().transcribe(samples, partial=partial)

    rec = StopChecked(Main(["up, please"]), SlowCheck(["Halt, please."], "whisper-base"), 2.5)
    rig.vad.publish("vad.partial", rig.pause(), trace="s1")
    serve(rig.worker, rec, rig.settings, Spec())
    assert [(t, getattr(p, "text", None)) for t, p in rig.heard()] == [
        ("asr.partial", "up, please"),
        ("asr.text", "up, please"),
        ("asr.partial", "Halt, please."),
    ]


def test_a_segment_recognised_whole_is_checked_in_the_thread_too() -> None:
    """No partial of its speech: the main transcript answers the segment at once, and a stop
    only the check heard follows as an ``asr.partial`` (the check model is used by one thread)."""
    from workers.asr.__main__ import serve

    rig = _rig()
    main, check = Scripted(["pulse,"], "whisper-tiny.en"), Scripted(["Halt!"], "whisper-base")
    rig.vad.publish("vad.segment", rig.segment, trace="s1")
    serve(rig.worker, StopChecked(main, check, 2.5), rig.settings)
    assert [(t, p.text, p.backend) for t, p in rig.heard()] == [
        ("asr.text", "pulse,", "whisper-tiny.en"),
        ("asr.partial", "Halt!", "whisper-base"),
    ]
    assert check.calls == [(int(1.5 * RATE), True)]


# --- the main model's other hypotheses, before the check model -----------------------------


@dataclass
class WithAlternatives(Scripted):
    """A main recogniser with hypotheses to give: ``hypotheses`` (text, score) for every audio
    it decoded last; ``encoding`` gives that audio back only for the same samples."""

    hypotheses: list[tuple[str, float]] = field(default_factory=list)
    last: np.ndarray | None = None
    asked: list[Any] = field(default_factory=list)

    def transcribe(self, samples: np.ndarray, *, partial: bool = False) -> Transcript:
        self.last = samples
        return super().transcribe(samples, partial=partial)

    def encoding(self, samples: np.ndarray) -> Any:
        same = self.last is not None and np.array_equal(self.last, samples)
        return ("enc", len(samples)) if same else None

    def alternatives(self, encoding: Any) -> list[tuple[Transcript, float]]:
        self.asked.append(encoding)
        return [(Transcript(text=t, language="en"), s) for t, s in self.hypotheses]


def _alt(hypotheses: list[tuple[str, float]], check: list[str], **kw: Any) -> StopChecked:
    main = WithAlternatives(["and breathe."], "whisper-tiny.en", hypotheses=hypotheses)
    return StopChecked(main, Scripted(check, "whisper-base"), 2.5, alternatives=3, **kw)


def test_a_stop_word_in_another_hypothesis_answers_and_the_check_model_is_not_asked() -> None:
    rec = _alt([("and breathe.", -0.6), ("freeze,", -0.9), ("and breed", -1.0)], [])
    out = rec.transcribe(audio(1.0), partial=True)
    assert (out.text, out.checked_from, out.checked_by) == (
        "freeze,",
        "and breathe.",
        "whisper-tiny.en-nbest",
    )
    assert rec.check.calls == []  # type: ignore[attr-defined]
    assert (rec.checked, rec.alternative_stops, rec.stops) == (1, 1, 0)


@pytest.mark.parametrize(
    ("hypotheses", "why"),
    [
        ([("and breathe.", -0.6), ("freeze,", -1.7)], "more than the margin below the best"),
        ([("a", -0.1), ("b", -0.2), ("c", -0.3), ("freeze,", -0.4)], "not among the first 3"),
        ([("and breathe.", -0.6), ("I stop by the shop now", -0.7)], "more than max_words"),
        ([("and breathe.", -0.6), ("take a break from it", -0.7)], "a sound-alike in a sentence"),
    ],
)
def test_a_hypothesis_far_from_the_best_or_not_a_stop_command_leaves_it_to_the_check(
    hypotheses: list[tuple[str, float]], why: str
) -> None:
    rec = _alt(hypotheses, ["and breathe."])
    out = rec.transcribe(audio(1.0))
    assert (out.text, out.checked_from) == ("and breathe.", ""), why
    assert len(rec.check.calls) == 1 and rec.alternative_stops == 0  # type: ignore[attr-defined]


def test_the_check_model_still_answers_when_no_hypothesis_holds_a_stop() -> None:
    rec = _alt([("up, please", -0.5), ("up please", -0.6)], ["Halt, please."])
    out = rec.transcribe(audio(1.0))
    assert (out.text, out.checked_by) == ("Halt, please.", "whisper-base")
    assert (rec.alternative_stops, rec.stops) == (0, 1)


def test_hypotheses_of_other_audio_are_never_read() -> None:
    rec = _alt([("freeze,", -0.1)], ["three"])
    rec.main.transcribe(audio(1.0))
    # the main model has since decoded another piece of audio: no encoding of this one
    assert rec.encoding(audio(0.5)) is None
    assert rec.recheck(audio(0.5), "and breathe.") is None
    assert rec.main.asked == []  # type: ignore[attr-defined]
    # given the encoding taken right after the decode, the hypotheses are read
    enc = rec.encoding(audio(1.0))
    out = rec.recheck(audio(1.0), "and breathe.", encoding=enc)
    assert out is not None and out.text == "freeze," and rec.main.asked == [enc]  # type: ignore[attr-defined]


def test_without_alternatives_in_the_settings_or_the_main_model_only_the_check_is_asked() -> None:
    main = WithAlternatives(["and breathe."], hypotheses=[("freeze,", -0.1)])
    rec = StopChecked(main, Scripted(["three"]), 2.5)  # alternatives 0, the default
    assert rec.transcribe(audio(1.0)).text == "and breathe." and main.asked == []
    assert rec.encoding(audio(1.0)) is None
    plain = StopChecked(Scripted(["and breathe."]), Scripted(["three"]), 2.5, alternatives=3)
    assert plain.transcribe(audio(1.0)).text == "and breathe."  # nothing to read: no error
    with pytest.raises(ValueError, match="alternatives"):
        StopChecked(main, Scripted([]), 2.5, alternatives=-1)
    with pytest.raises(ValueError, match="alternatives_margin"):
        StopChecked(main, Scripted([]), 2.5, alternatives=3, alternatives_margin=0)


def test_the_worker_publishes_a_stop_from_another_hypothesis_with_its_source() -> None:
    from workers.asr.__main__ import serve
    from workers.asr.speculative import Speculation

    rig = _rig()
    rig.probe.subscribe("sys.metric")
    main = WithAlternatives(
        ["and breathe."], "whisper-tiny.en", hypotheses=[("and breathe.", -0.6), ("freeze,", -0.9)]
    )
    check = Scripted([], "whisper-base")
    rec = StopChecked(main, check, max_audio_s=2.5, alternatives=3)
    spec = Speculation()
    rig.vad.publish("vad.partial", rig.pause(), trace="s1")
    serve(rig.worker, rec, rig.settings, spec)
    rig.vad.publish("vad.segment", rig.segment, trace="s1")
    serve(rig.worker, rec, rig.settings, spec)
    got = [(t, p) for t, p in rig.heard() if t != "sys.metric" or p.name.startswith("asr_stop")]
    (metric,) = [p for t, p in got if t == "sys.metric"]
    assert (metric.labels["stop"], metric.labels["backend"]) == ("true", "whisper-tiny.en-nbest")
    assert [(t, p.text, p.backend) for t, p in got if t != "sys.metric"] == [
        ("asr.partial", "and breathe.", "whisper-tiny.en"),
        ("asr.partial", "freeze,", "whisper-tiny.en-nbest"),
        ("asr.text", "freeze,", "whisper-tiny.en-nbest"),
    ]
    assert check.calls == [] and len(main.asked) == 1
