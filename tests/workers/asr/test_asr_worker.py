"""The whole ``asr`` worker on the in-memory bus: a WAV in a ``vad.segment`` -> ``asr.text``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from bus import MemoryBus
from schemas.asr import AsrText
from schemas.system import Metric
from schemas.vad import VadSegment
from tests.workers.asr.conftest import (
    EXPECTED_TEXT,
    FakeSenseVoice,
    make_fake_sensevoice,
    read_wav,
    write_wav,
)
from workers.asr.__main__ import serve
from workers.asr.backends import open_recognizer
from workers.asr.errors import ModelDirError
from workers.asr.manifest import MANIFEST
from workers.asr.recognise import segment_samples
from workers.asr.settings import AsrSettings
from workers.asr.speculative import Speculation


def segment_from_wav(path: Path, segment_id: str = "seg-1", rate: int = 16000) -> VadSegment:
    pcm = read_wav(path).tobytes()
    return VadSegment(
        pcm=pcm,
        sample_rate_hz=rate,
        segment_id=segment_id,
        start_ns=1,
        end_ns=2,
        speech_end_ns=1_000,
    )


def run_worker(settings: AsrSettings, *segments: VadSegment) -> tuple[list, list]:
    """Feed ``segments`` through the worker loop; return (asr.text envelopes, metrics)."""
    bus = MemoryBus()
    worker = bus.node("asr", settings.model_dump(mode="json"), manifest=MANIFEST)
    vad, probe = bus.node("vad"), bus.node("probe")
    probe.subscribe("asr.text", "sys.metric")
    for seg in segments:
        vad.publish("vad.segment", seg, trace=seg.segment_id)
    recognizer = open_recognizer(settings)
    try:
        serve(worker, recognizer, settings)
    finally:
        recognizer.close()
    got = list(probe)
    texts = [m for m in got if m.topic == "asr.text"]
    metrics = [m for m in got if m.topic == "sys.metric"]
    return texts, metrics


def onnx_settings(model_dir: Path, **kw: object) -> AsrSettings:
    return AsrSettings.model_validate(
        {"backend": "sensevoice-onnx", "sensevoice": {"model_dir": model_dir}, **kw}
    )


def test_wav_becomes_text_language_emotion_with_the_segment_trace(
    fake_sensevoice: FakeSenseVoice, tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "tones.wav", fake_sensevoice.tone_audio(EXPECTED_TEXT))
    texts, metrics = run_worker(
        onnx_settings(fake_sensevoice.dir, language="en"), segment_from_wav(wav)
    )
    (msg,) = texts
    out = msg.payload
    assert isinstance(out, AsrText)
    assert msg.trace == "seg-1"
    assert (out.text, out.language, out.emotion, out.event, out.itn) == (
        EXPECTED_TEXT,
        "en",
        "HAPPY",
        "Speech",
        True,
    )
    assert out.segment_id == "seg-1" and out.speech_end_ns == 1_000
    assert out.backend == "sensevoice-onnxruntime"
    assert out.audio_s == pytest.approx(len(read_wav(wav)) / 16000)
    assert out.infer_ms > 0 and out.rtf > 0
    names = {m.payload.name for m in metrics}
    assert names == {"asr_rtf", "asr_infer_ms", "asr_latency_ms"}
    for m in metrics:
        assert isinstance(m.payload, Metric) and m.trace == "seg-1"
        labels = {"backend": out.backend}
        if m.payload.name == "asr_latency_ms":
            labels["speculative"] = "false"
        assert m.payload.kind == "sample" and m.payload.labels == labels


def test_language_and_itn_settings_reach_the_query_rows(
    fake_sensevoice: FakeSenseVoice, tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "tones.wav", fake_sensevoice.tone_audio(EXPECTED_TEXT))
    (msg,), _ = run_worker(
        onnx_settings(fake_sensevoice.dir, language="zh", use_itn=False), segment_from_wav(wav)
    )
    assert (msg.payload.language, msg.payload.itn, msg.payload.text) == ("zh", False, EXPECTED_TEXT)


def test_silence_is_answered_with_empty_text(
    fake_sensevoice: FakeSenseVoice, tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "silence.wav", np.zeros(16000, np.int16))
    (msg,), _ = run_worker(onnx_settings(fake_sensevoice.dir), segment_from_wav(wav, "quiet"))
    assert msg.payload.text == "" and msg.trace == "quiet"
    assert msg.payload.event == "Speech"  # the tags are still reported


def test_long_segment_is_split_and_joined_without_repeats(
    fake_sensevoice: FakeSenseVoice, tmp_path: Path
) -> None:
    one = fake_sensevoice.tone_audio(EXPECTED_TEXT)
    wav = write_wav(tmp_path / "long.wav", np.concatenate([one] * 4))  # 12.8 s > 10 s window
    (msg,), _ = run_worker(onnx_settings(fake_sensevoice.dir), segment_from_wav(wav))
    assert msg.payload.audio_s > 10.5
    assert msg.payload.text == " ".join([EXPECTED_TEXT] * 4)


@pytest.mark.parametrize("layout", ["4d", "time_first"])
def test_other_output_layouts_decode_the_same(layout: str, tmp_path: Path) -> None:
    fake = make_fake_sensevoice(tmp_path / layout, layout)
    wav = write_wav(tmp_path / "tones.wav", fake.tone_audio(EXPECTED_TEXT))
    (msg,), _ = run_worker(onnx_settings(fake.dir), segment_from_wav(wav))
    assert msg.payload.text == EXPECTED_TEXT


def test_segment_at_another_rate_is_refused_and_nothing_is_published(
    fake_sensevoice: FakeSenseVoice, tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "tones.wav", fake_sensevoice.tone_audio(EXPECTED_TEXT))
    good = segment_from_wav(wav, "good")
    bad = segment_from_wav(wav, "bad", rate=8000)
    texts, _ = run_worker(onnx_settings(fake_sensevoice.dir), bad, good)
    assert [m.trace for m in texts] == ["good"]


def test_settings_reject_unknown_keys_and_a_missing_model_dir() -> None:
    with pytest.raises(ValidationError, match="core_masc"):
        AsrSettings.model_validate({"sensevoice": {"core_masc": "0"}})
    with pytest.raises(ValidationError, match="needs sensevoice.model_dir"):
        AsrSettings(backend="sensevoice-rknn")


def test_missing_model_file_is_named_at_start(
    fake_sensevoice: FakeSenseVoice, tmp_path: Path
) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("am.mvn", "embedding.npy", "sense-voice-encoder.onnx"):
        (partial / name).write_bytes((fake_sensevoice.dir / name).read_bytes())
    with pytest.raises(ModelDirError, match=r"lacks chn_jpn_yue_eng_ko_spectok\.bpe\.model"):
        open_recognizer(onnx_settings(partial))


# --- speculative transcripts of the open segment ----------------------------------------------


class Counting:
    """A recognizer that counts its calls."""

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, 0
        self.name, self.max_samples = inner.name, inner.max_samples

    def transcribe(self, samples, *, partial=False):
        self.calls += 1
        return self.inner.transcribe(samples, partial=partial)

    def close(self) -> None:
        self.inner.close()


def partial_from(seg: VadSegment, revision: int = 0):
    from schemas.vad import VadPartial

    return VadPartial(
        pcm=seg.pcm, segment_id=seg.segment_id, revision=revision, start_ns=seg.start_ns,
        end_ns=seg.end_ns, speech_end_ns=seg.speech_end_ns, bus_ms=0.5,
    )  # fmt: skip


def test_a_pause_is_transcribed_at_once_and_the_segment_that_keeps_its_speech_reuses_it(
    fake_sensevoice: FakeSenseVoice, tmp_path: Path
) -> None:
    from schemas.asr import AsrPartial

    wav = write_wav(tmp_path / "tones.wav", fake_sensevoice.tone_audio(EXPECTED_TEXT))
    settings = onnx_settings(fake_sensevoice.dir)
    seg = segment_from_wav(wav).model_copy(update={"partial_revision": 0, "bus_ms": 0.25})
    bus = MemoryBus()
    worker = bus.node("asr", settings.model_dump(mode="json"), manifest=MANIFEST)
    vad, probe = bus.node("vad"), bus.node("probe")
    probe.subscribe("asr.*")
    rec = Counting(open_recognizer(settings))
    spec = Speculation()
    try:
        vad.publish("vad.partial", partial_from(seg), trace="seg-1")
        serve(worker, rec, settings, spec)  # the pause: recognised before the segment closes
        (heard,) = [m.payload for m in probe]
        assert isinstance(heard, AsrPartial) and heard.text == EXPECTED_TEXT
        assert heard.revision == 0 and heard.bus_ms >= 0.5
        vad.publish("vad.segment", seg, trace="seg-1")
        serve(worker, rec, settings, spec)
        (text,) = [m.payload for m in probe]
        assert isinstance(text, AsrText) and text.speculative and text.text == EXPECTED_TEXT
        assert text.bus_ms >= 0.25 and rec.calls == 1
        # speech that went on after the partial: the segment is recognised again
        later = seg.model_copy(update={"segment_id": "seg-2", "partial_revision": 2})
        vad.publish("vad.partial", partial_from(later, revision=1), trace="seg-2")
        serve(worker, rec, settings, spec)
        vad.publish("vad.segment", later, trace="seg-2")
        serve(worker, rec, settings, spec)
        texts = [m.payload for m in probe if isinstance(m.payload, AsrText)]
        assert [t.speculative for t in texts] == [False] and rec.calls == 3
        assert spec.reused == 1
    finally:
        rec.close()


def test_a_partial_whose_segment_already_waits_is_not_recognised(
    fake_sensevoice: FakeSenseVoice, tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "tones.wav", fake_sensevoice.tone_audio(EXPECTED_TEXT))
    settings = onnx_settings(fake_sensevoice.dir)
    seg = segment_from_wav(wav).model_copy(update={"partial_revision": 1})
    bus = MemoryBus()
    worker = bus.node("asr", settings.model_dump(mode="json"), manifest=MANIFEST)
    vad, probe = bus.node("vad"), bus.node("probe")
    probe.subscribe("asr.*")
    rec = Counting(open_recognizer(settings))
    try:
        vad.publish("vad.partial", partial_from(seg, 0), trace="seg-1")
        vad.publish("vad.partial", partial_from(seg, 1), trace="seg-1")
        vad.publish("vad.segment", seg, trace="seg-1")
        serve(worker, rec, settings)
    finally:
        rec.close()
    assert [m.topic for m in probe] == ["asr.text"] and rec.calls == 1


def test_without_speculation_the_worker_reads_no_partials() -> None:
    consumes, produces = MANIFEST.resolve(AsrSettings(speculative=False))
    assert set(consumes) == {"vad.segment"} and set(produces) == {"asr.text"}
    consumes, produces = MANIFEST.resolve(AsrSettings())
    assert "vad.partial" in consumes and "asr.partial" in produces


def test_a_segment_read_in_place_gives_the_samples_of_its_bytes() -> None:
    """With shared memory on, the worker gets its audio as a read-only memoryview of the VAD's
    ring (``node.read_in_place``): the samples are those of the same bytes."""
    pcm = np.arange(-8000, 8000, 7, dtype="<i2").tobytes()
    seg = VadSegment(pcm=pcm, segment_id="s", start_ns=0, end_ns=1)
    view = seg.model_copy()
    view.__dict__["pcm"] = memoryview(pcm).toreadonly()  # as bus.framing delivers it
    assert np.array_equal(segment_samples(view), segment_samples(seg))


class _Looping:
    """A recognizer whose quick pass of a pause loops (cut to "start,"); its careful pass and
    every segment hear the words."""

    name, max_samples = "looping", 30 * 16000

    def __init__(self) -> None:
        self.calls: list[bool] = []

    def transcribe(self, samples, *, partial=False):
        from workers.asr.transcript import Transcript

        self.calls.append(partial)
        if partial:
            return Transcript(text="start,", language="en", loop_cut=True)
        return Transcript(text="Stop, how much charge", language="en")

    def close(self) -> None:
        pass


def test_a_pause_that_loops_is_sent_at_once_then_heard_with_care_and_that_answers_the_segment(
    tmp_path: Path,
) -> None:
    from schemas.asr import AsrPartial

    settings = AsrSettings()
    pcm = np.zeros(12_000, dtype="<i2").tobytes()
    seg = VadSegment(pcm=pcm, segment_id="s1", start_ns=0, end_ns=1, partial_revision=0)
    bus = MemoryBus()
    worker = bus.node("asr", settings.model_dump(mode="json"), manifest=MANIFEST)
    vad, probe = bus.node("vad"), bus.node("probe")
    probe.subscribe("asr.*")
    rec = _Looping()
    spec = Speculation()
    vad.publish("vad.partial", partial_from(seg), trace="s1")
    serve(worker, rec, settings, spec)
    heard = [m.payload for m in probe]
    assert [type(h) for h in heard] == [AsrPartial, AsrPartial]
    assert [h.text for h in heard] == ["start,", "Stop, how much charge"]  # type: ignore[union-attr]
    vad.publish("vad.segment", seg, trace="s1")
    serve(worker, rec, settings, spec)
    (text,) = [m.payload for m in probe]
    assert isinstance(text, AsrText) and text.speculative and text.text == "Stop, how much charge"
    assert rec.calls == [True, False]  # the segment itself was not recognised again
