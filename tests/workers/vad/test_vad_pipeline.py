"""The VAD on real speech (espeak-ng) and noise, through the pipeline and a memory bus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from bench.corpus import speak
from bus import MemoryBus
from schemas.audio import AudioFrame
from schemas.vad import VadSegment, VadState
from tests.workers.cannot_run import cannot_run
from workers.vad.__main__ import run
from workers.vad.classifier import ClassifierParams, FrameClassifier, NoiseFloor
from workers.vad.manifest import MANIFEST
from workers.vad.pipeline import VadPipeline, VadSettings
from workers.vad.settings import EndOfTurnSettings
from workers.wavsource.playout import wav_frames

T0 = 10_000_000_000


@pytest.fixture(scope="module")
def utterance() -> tuple[np.ndarray, float, float]:
    """0.8 s silence, one sentence, 1.2 s silence; with the true speech span in seconds."""
    s = speak("Turn left and slow down.", "en")
    nz = np.nonzero(np.abs(s.astype(np.int32)) > 2)[0]
    s = s[nz[0] : nz[-1] + 1]
    x = np.concatenate([np.zeros(12800, np.int16), s, np.zeros(19200, np.int16)])
    return x, 0.8, 0.8 + len(s) / 16000


def frames_of(x: np.ndarray, frame_ms: int = 20) -> list[AudioFrame]:
    return [
        AudioFrame(
            pcm=pcm, index=i, capture_ns=T0 + i * frame_ms * 1_000_000, source="t", final=final
        )
        for i, pcm, final in wav_frames(x, frame_ms)
    ]


def test_one_sentence_gives_started_ended_and_one_segment_through_the_worker_loop(
    utterance,
) -> None:
    x, start_s, end_s = utterance
    bus = MemoryBus()
    mic, vad_node, tap = bus.node("mic"), bus.node("vad", manifest=MANIFEST), bus.node("tap")
    tap.subscribe("vad.*")
    for f in frames_of(x):
        mic.publish("audio.frame", f)
    run(vad_node)
    msgs = list(tap)
    states = [m.payload for m in msgs if isinstance(m.payload, VadState)]
    segs = [m for m in msgs if isinstance(m.payload, VadSegment)]
    assert [s.speaking for s in states] == [True, False]
    assert len(segs) == 1
    seg = segs[0].payload
    assert isinstance(seg, VadSegment)
    assert segs[0].trace == seg.segment_id == states[0].segment_id
    assert abs((seg.speech_start_ns - T0) / 1e9 - start_s) < 0.06
    assert abs((seg.speech_end_ns - T0) / 1e9 - end_s) < 0.06
    assert seg.closed_by == "silence"


@pytest.mark.parametrize("frame_ms", [10, 30])
def test_incoming_frames_of_other_lengths_are_recut(utterance, frame_ms: int) -> None:
    x, start_s, _ = utterance
    pipeline = VadPipeline(VadSettings(frame_ms=20))
    out = [o for f in frames_of(x, frame_ms) for o in pipeline.feed(f)]
    segs = [p for _, p, _ in out if isinstance(p, VadSegment)]
    assert len(segs) == 1
    assert abs((segs[0].speech_start_ns - T0) / 1e9 - start_s) < 0.06


def test_a_hole_in_the_frame_indices_closes_the_open_segment(utterance) -> None:
    x, _, _ = utterance
    frames = frames_of(x)
    pipeline = VadPipeline(VadSettings())
    out = []
    for f in frames[:70] + frames[75:]:  # frames 70-74 lost in the middle of the sentence
        out += pipeline.feed(f)
    segs = [p for _, p, _ in out if isinstance(p, VadSegment)]
    assert segs[0].closed_by == "flush"
    assert pipeline.frames_lost == 5


def test_final_frame_flushes_an_open_segment(utterance) -> None:
    x, _, _ = utterance
    pipeline = VadPipeline(VadSettings())
    out = [o for f in frames_of(x[: 16000 + 8000]) for o in pipeline.feed(f)]
    segs = [p for _, p, _ in out if isinstance(p, VadSegment)]
    assert [s.closed_by for s in segs] == ["flush"]


def test_frames_of_another_rate_are_rejected_not_misread() -> None:
    pipeline = VadPipeline()
    f = AudioFrame(pcm=b"\x00" * 960, sample_rate_hz=48000, index=0, capture_ns=0)
    assert pipeline.feed(f) == []
    assert pipeline.rejected == 1


def test_steady_loud_noise_does_not_hold_the_gate_open() -> None:
    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(16000 * 6) * 3000).astype("<i2")
    c = FrameClassifier(ClassifierParams(aggressiveness=3, gate_db=6.0))
    voiced = [c.classify(noise[i : i + 320].tobytes())[0] for i in range(0, len(noise), 320)]
    assert sum(voiced[50:]) == 0  # after the first second the floor has found the noise


def test_noise_floor_is_the_minimum_over_its_window() -> None:
    floor = NoiseFloor(window_s=1.0)
    for level in [-50.0] * 10 + [-20.0] * 30:
        floor.update(level, 0.02)
    assert floor.level_db == -50.0  # 1 s = 50 frames: the quiet frames are still in the window
    for _ in range(20):
        floor.update(-20.0, 0.02)
    assert floor.level_db == -20.0


def test_bad_settings_fail_with_the_key_named() -> None:
    with pytest.raises(ValidationError, match="post_roll_ms"):
        VadSettings(hangover_ms=100, post_roll_ms=300)
    with pytest.raises(ValidationError, match="aggressiveness"):
        VadSettings(aggressiveness=4)
    with pytest.raises(ValidationError, match="extra"):
        VadSettings.model_validate({"hangover": 300})


@pytest.mark.slow
def test_the_worker_with_a_negative_hangover_cannot_run_and_names_the_key(tmp_path: Path) -> None:
    reason = cannot_run("workers.vad", {"hangover_ms": -5}, tmp_path)
    assert reason.startswith("Invalid settings of worker 'vad': settings.hangover_ms: ")


def test_the_pause_partial_and_its_transcript_close_the_segment_after_the_words_wait(
    utterance,
) -> None:
    from schemas.asr import AsrPartial
    from schemas.vad import VadPartial
    from workers.vad.settings import EndOfTurnSettings

    x, _, end_s = utterance
    eot = EndOfTurnSettings(complete_ms=200, open_ms=400, trailing_ms=900)
    pipe = VadPipeline(VadSettings(hangover_ms=900, partial_after_ms=120, end_of_turn=eot))
    out, partial = [], None
    for f in frames_of(x):
        got = pipe.feed(f, age_ms=0.25)
        out += got
        for p in (o.payload for o in got if isinstance(o.payload, VadPartial)):
            # a pause inside the sentence ("Turn left | and slow down"), then its end
            whole = p.speech_end_ns > T0 + (end_s - 0.1) * 1e9
            text = "Turn left and slow down." if whole else "Turn left"
            out += pipe.on_transcript(
                AsrPartial(text=text, segment_id=p.segment_id, revision=p.revision)
            )
            partial = p
    assert partial is not None and partial.paused and partial.bus_ms == 0.25
    assert abs(partial.speech_end_ns - (T0 + end_s * 1e9)) < 40e6
    (seg,) = [o.payload for o in out if isinstance(o.payload, VadSegment)]
    assert seg.eot_wait_ms == 200 and seg.partial_revision == partial.revision
    assert seg.speech_end_ns == partial.speech_end_ns and seg.bus_ms == 0.25
    # a transcript that trails off keeps the segment open for the long wait
    assert closing_wait(x, eot, "Turn left and") == 900


def test_speech_that_goes_on_after_a_pause_is_published_before_the_next_partial(
    utterance,
) -> None:
    from schemas.vad import VadPartial, VadResumed

    x, _, _ = utterance
    pipe = VadPipeline(VadSettings(hangover_ms=900, partial_after_ms=120))
    out = [o for f in frames_of(x) for o in pipe.feed(f)]
    seq = [o.payload for o in out if isinstance(o.payload, VadPartial | VadResumed)]
    parts = [p for p in seq if isinstance(p, VadPartial)]
    assert len(parts) >= 2  # "Turn left | and slow down": espeak pauses at the word gap
    # each partial but the last is followed by its resumption, which comes before the next one
    expected: list[tuple[str, int]] = []
    for p in parts[:-1]:
        expected += [("partial", p.revision), ("resumed", p.revision)]
    expected.append(("partial", parts[-1].revision))
    assert [("partial" if isinstance(p, VadPartial) else "resumed", p.revision) for p in seq] == (
        expected
    )
    resumed = [(o.topic, o.trace, o.payload) for o in out if isinstance(o.payload, VadResumed)]
    assert all(t == "vad.resumed" and tr == r.segment_id for t, tr, r in resumed)
    assert all(r.at_ns > parts[0].speech_end_ns for _, _, r in resumed)


def closing_wait(x: np.ndarray, eot: EndOfTurnSettings, text: str) -> int:
    """The silence that closed the one segment of ``x`` when every pause reads ``text``, ms."""
    from schemas.asr import AsrPartial
    from schemas.vad import VadPartial

    pipe = VadPipeline(VadSettings(hangover_ms=900, partial_after_ms=120, end_of_turn=eot))
    out = []
    for f in frames_of(x):
        got = pipe.feed(f)
        out += got
        for p in (o.payload for o in got if isinstance(o.payload, VadPartial)):
            out += pipe.on_transcript(
                AsrPartial(text=text, segment_id=p.segment_id, revision=p.revision)
            )
    (seg,) = [o.payload for o in out if isinstance(o.payload, VadSegment)]
    return seg.eot_wait_ms


def test_end_of_turn_without_partials_or_longer_than_the_hangover_is_refused() -> None:
    from workers.vad.settings import EndOfTurnSettings

    with pytest.raises(ValidationError, match="needs partial_after_ms"):
        VadSettings(partial_after_ms=0, hangover_ms=1000, end_of_turn=EndOfTurnSettings())
    with pytest.raises(ValidationError, match="raise it to at least that"):
        VadSettings(hangover_ms=500, partial_after_ms=100, end_of_turn=EndOfTurnSettings())


def test_the_manifest_names_the_partial_topics_only_when_the_settings_use_them() -> None:
    from workers.vad.settings import EndOfTurnSettings

    consumes, produces = MANIFEST.resolve(VadSettings(partial_after_ms=0))
    assert "asr.partial" not in consumes and "vad.partial" not in produces
    assert "vad.resumed" not in produces
    consumes, produces = MANIFEST.resolve(VadSettings())  # partials by default, no words' wait
    assert "asr.partial" not in consumes and "vad.partial" in produces
    assert "vad.resumed" in produces
    s = VadSettings(hangover_ms=1000, partial_after_ms=120, end_of_turn=EndOfTurnSettings())
    consumes, produces = MANIFEST.resolve(s)
    assert "asr.partial" in consumes and "vad.partial" in produces


@pytest.mark.parametrize(
    ("text", "grammar", "mark_ms", "wait_ms"),
    [
        ("Kindly turn left,", True, None, 200),  # the recogniser's comma after a whole command
        ("Rotate ninety degrees to the right, please", True, None, 200),
        ("Hey robot, stop,", True, None, 200),
        ("Drive forward.", True, None, 900),  # an amount may follow: "drive forward | two meters"
        ("Kindly turn left,", False, None, 900),  # the words' rule alone: a comma trails off
        ("What is your name,", True, None, 900),  # not a command: the words' rule
        ("What is your name,", True, 600, 600),  # ... with a mark wait: only a bare comma
        ("Drive forward,", True, 600, 900),  # a mark wait never shortens the grammar's trailing
        ("Tell me about the,", True, 600, 900),  # nor words that trail off
    ],
)
def test_the_grammar_reads_the_commands_it_understands_before_the_punctuation(
    utterance, text: str, grammar: bool, mark_ms: int | None, wait_ms: int
) -> None:
    from workers.vad.settings import EndOfTurnSettings

    eot = EndOfTurnSettings(
        complete_ms=200, open_ms=400, trailing_ms=900, grammar=grammar, mark_ms=mark_ms
    )
    assert closing_wait(utterance[0], eot, text) == wait_ms


def test_a_mark_wait_longer_than_the_hangover_is_refused() -> None:
    from workers.vad.settings import EndOfTurnSettings

    with pytest.raises(ValidationError, match="waits up to 1200 ms"):
        VadSettings(
            hangover_ms=1000, partial_after_ms=120, end_of_turn=EndOfTurnSettings(mark_ms=1200)
        )
