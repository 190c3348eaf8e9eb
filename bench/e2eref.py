"""The reference loop of the source document, with the models and settings of ``configs/host.yaml``.

What the source document's real-time script does with one utterance (``reference/seed-stack.md``
1.2), re-implemented beside voicebus so both are measured on the same audio in the same run:

1. the capture loop of ``bench.vadref`` (1024-sample reads, 0.5 s blocks judged by webrtcvad mode
   3 at 40 %, the segment saved 1 s after the last voiced block; no pre-roll) on a simulated
   stream clock: the **segment-closed latency** is that loop's close time minus the true end of
   speech;
2. after the close, in one thread and in wall time: the segment written to a WAV and read back
   (the reference saves it), the whole transcript (``WhisperRecognizer`` with host.yaml's ASR
   settings, its default 30 s window: the reference knows no other), the **whole** LLM reply
   (llama.cpp with host.yaml's model, threads, context and seed and the dialog's system prompt,
   ``max_tokens`` and temperature), then TTS of the whole reply (host.yaml's TTS backend): the
   **after-close latency** is close -> that audio.

Every line goes to the LLM, as in the reference (it has no command grammar). :class:`Reference`
loads the models once and makes one warm-up call of each before the first line.
"""

from __future__ import annotations

import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.vadref import reference_loop

__all__ = ["HostModels", "RefTurn", "Reference"]

REPO = Path(__file__).resolve().parent.parent
RATE = 16000


@dataclass(frozen=True)
class HostModels:
    """The settings of ``configs/host.yaml`` the reference loop uses (read from the file)."""

    asr: Any
    llm: Any
    dialog: Any
    tts: Any

    @classmethod
    def load(cls, config: Path = REPO / "configs" / "host.yaml") -> HostModels:
        """The ASR, LLM, dialog and TTS settings of ``config`` (validated by their models)."""
        from workers.asr.settings import AsrSettings
        from workers.dialog.settings import DialogSettings
        from workers.llm.settings import LlmSettings
        from workers.tts.settings import TtsSettings

        workers = yaml.safe_load(config.read_text())["workers"]

        def settings(name: str, model: Any) -> Any:
            return model.model_validate(workers[name].get("settings", {}))

        return cls(
            asr=settings("asr", AsrSettings),
            llm=settings("llm", LlmSettings),
            dialog=settings("dialog", DialogSettings),
            tts=settings("tts", TtsSettings),
        )


@dataclass(frozen=True)
class RefTurn:
    """One utterance through the reference loop (ms)."""

    line: int
    heard: str
    reply: str
    close_ms: float
    """True end of speech -> the loop closed the segment."""
    asr_ms: float
    llm_ms: float
    tts_ms: float

    @property
    def after_close_ms(self) -> float:
        """Segment closed -> the reply's audio."""
        return self.asr_ms + self.llm_ms + self.tts_ms

    @property
    def end_to_end_ms(self) -> float:
        return self.close_ms + self.after_close_ms


class Reference:
    """The reference loop with host.yaml's models, loaded once and warmed up once."""

    def __init__(self, host: HostModels, tmp: Path) -> None:
        from llama_cpp import Llama

        from workers.asr.whisper import WhisperRecognizer
        from workers.llm.backends.llamacpp import default_model_path
        from workers.tts.synth import Synthesizer

        w = host.asr.whisper
        # the reference has Whisper's own 30 s window: window_s is voicebus's, not its
        self.asr = WhisperRecognizer(
            w.model, language=host.asr.language, threads=w.threads, beam_size=w.beam_size
        )
        lc = host.llm.llamacpp
        self.llm = Llama(
            model_path=str(lc.model_path or default_model_path()),
            n_ctx=lc.n_ctx,
            n_threads=lc.n_threads,
            seed=lc.seed,
            verbose=False,
        )
        self.tts = Synthesizer(host.tts)
        self.dialog = host.dialog
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self._warm_up()

    def _warm_up(self) -> None:
        """One call of each model, as the reference's first utterance would not be measured."""
        from schemas.tts import TtsRequest

        self.asr.transcribe(np.zeros(RATE, dtype=np.float32))
        self._reply("Hello.")
        self.tts.speak(TtsRequest(turn_id="warm-up", index=0, text="Hello.", final=True))

    def _reply(self, text: str) -> str:
        out: Any = self.llm.create_chat_completion(
            messages=[
                {"role": "system", "content": self.dialog.system_prompt},
                {"role": "user", "content": text},
            ],
            max_tokens=self.dialog.max_tokens,
            temperature=self.dialog.temperature,
        )
        return str(out["choices"][0]["message"]["content"] or "")

    def turn(self, line: int, pcm: np.ndarray, speech_end_s: float) -> RefTurn | None:
        """``pcm`` (16 kHz int16, the utterance and its silence) through the loop."""
        from schemas.tts import TtsRequest

        tail = np.zeros(int(2.5 * RATE), np.int16)  # the loop needs silence to close
        stream = np.concatenate([pcm.astype(np.int16), tail])
        segs = [s for s in reference_loop(stream) if s.end_s > speech_end_s - 1.0]
        if not segs:
            return None
        seg = segs[0]
        t0 = time.perf_counter()
        path = self.tmp / "ref_segment.wav"  # the reference saves the segment, then reads it
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(stream[int(seg.start_s * RATE) : int(seg.end_s * RATE)].tobytes())
        with wave.open(str(path)) as w:
            audio = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32)
        heard = self.asr.transcribe(audio / 32768.0).text
        t1 = time.perf_counter()
        reply = self._reply(heard or "Hello.")
        t2 = time.perf_counter()
        self.tts.speak(TtsRequest(turn_id="ref", index=0, text=reply or "Sorry.", final=True))
        t3 = time.perf_counter()
        return RefTurn(
            line=line,
            heard=heard,
            reply=reply,
            close_ms=(seg.closed_s - speech_end_s) * 1000,
            asr_ms=(t1 - t0) * 1000,
            llm_ms=(t2 - t1) * 1000,
            tts_ms=(t3 - t2) * 1000,
        )

    def close(self) -> None:
        """Free the models."""
        self.asr.close()
        self.llm.close()
