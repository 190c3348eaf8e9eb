"""The reference capture + VAD loop of the source document, re-implemented for comparison.

Written from ``reference/seed-stack.md`` section 1.2 (ABexit/ASR-LLM-TTS ``13_...realTime.py``):

- pyaudio reads ``CHUNK = 1024`` samples (64 ms) of 16 kHz int16 at a time;
- chunks are accumulated until ``len(buffer) * CHUNK / 16000 >= 0.5`` (8 chunks = 0.512 s), then
  the block is judged whole and the buffer cleared;
- ``check_vad_activity``: ``webrtcvad.Vad()`` mode 3, ``step = int(16000 * 0.02) = 320`` applied
  to the *byte* string (so 10 ms frames), ``flag_rate = round(0.4 * len(bytes) // 320)`` = 20,
  the block is speech if more than 20 of its 51 full frames are voiced;
- voiced blocks are appended with ``time.time()``; ``last_active_time`` is updated;
- after every read, if ``time.time() - last_active_time > NO_SPEECH_THRESHOLD`` (1 s) and blocks
  were collected, the segment (the voiced blocks, no pre-roll, internal silent blocks dropped) is
  saved and ``last_active_time`` reset.

Here the wall clock is the stream clock: a read returns when its last sample is captured, so
``time.time()`` at a read is the end time of that chunk. The loop's reported boundaries are the
start of its first voiced block and the end of its last voiced block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import webrtcvad

__all__ = ["RefSegment", "reference_loop"]

RATE = 16000
CHUNK = 1024
NO_SPEECH_THRESHOLD_S = 1.0
RATE_VOICED = 0.4


@dataclass(frozen=True)
class RefSegment:
    """A segment the reference loop saved; times in stream seconds."""

    start_s: float
    end_s: float
    closed_s: float


def _check_vad_activity(vad: webrtcvad.Vad, audio_data: bytes) -> bool:
    num = 0
    step = int(RATE * 0.02)  # 320, applied to bytes: 10 ms frames, as in the original
    flag_rate = round(RATE_VOICED * len(audio_data) // step)
    for i in range(0, len(audio_data), step):
        chunk = audio_data[i : i + step]
        if len(chunk) == step and vad.is_speech(chunk, sample_rate=RATE):
            num += 1
    return num > flag_rate


def reference_loop(samples: np.ndarray) -> list[RefSegment]:
    """Run the loop over 16 kHz int16 samples; return the segments it would have saved."""
    vad = webrtcvad.Vad()
    vad.set_mode(3)
    pcm = np.asarray(samples, dtype="<i2").tobytes()
    buffer: list[bytes] = []
    blocks: list[tuple[float, float]] = []  # (block start, time appended) of voiced blocks
    last_active = 0.0
    out = []
    for k in range(len(pcm) // (2 * CHUNK)):
        data = pcm[k * 2 * CHUNK : (k + 1) * 2 * CHUNK]
        now = (k + 1) * CHUNK / RATE  # the read returns when the chunk is captured
        buffer.append(data)
        if len(buffer) * CHUNK / RATE >= 0.5:
            raw = b"".join(buffer)
            if _check_vad_activity(vad, raw):
                last_active = now
                blocks.append((now - len(buffer) * CHUNK / RATE, now))
            buffer = []
        if now - last_active > NO_SPEECH_THRESHOLD_S and blocks:
            out.append(RefSegment(blocks[0][0], blocks[-1][1], now))
            blocks = []
            last_active = now
    return out
