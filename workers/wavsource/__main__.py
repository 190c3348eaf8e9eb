"""``python -m workers.wavsource``: WAV files in, ``audio.frame`` out, paced as a microphone.

The loop ticks once per frame (``frame_ms``; in bursts without ``realtime``) and publishes the
frames that are due. The first frame is captured ``start_delay_s`` after ready (rounded up to a
whole frame), so the frames fall due on the ticks. After the last frame the worker idles until
stopped, or exits 0 with ``exit_when_done``. A missing or unreadable file: exit 2, naming it.
"""

from __future__ import annotations

import logging
import math
import sys

from audio.wavio import WavError
from bus import BusNode, Tick
from workers.runner import run_worker
from workers.wavsource.manifest import MANIFEST
from workers.wavsource.playout import RATE_HZ, Playout, load_files
from workers.wavsource.settings import WavSourceSettings

log = logging.getLogger("workers.wavsource")

#: Tick period without ``realtime``: each tick hands over a burst of frames.
_BURST_TICK_S = 0.001


def main() -> int:
    """Run the worker until SIGTERM (or the end of the files with ``exit_when_done``)."""
    return run_worker(MANIFEST, run, cannot_run=(WavError,))


def run(node: BusNode) -> None:
    """Publish the files' frames as they fall due."""
    s = node.settings_as(WavSourceSettings)
    samples = load_files(s.files)
    node.ready()
    log.info(
        "wavsource_start files=%d seconds=%.1f realtime=%s loop=%s",
        len(s.files),
        len(samples) / RATE_HZ,
        s.realtime,
        s.loop,
    )
    frame_ns = s.frame_ms * 1_000_000
    delay_frames = math.ceil(s.start_delay_s * 1e9 / frame_ns)
    period_ns = frame_ns if s.realtime else int(_BURST_TICK_S * 1e9)
    loop = node.events(tick_s=period_ns / 1e9)
    playout: Playout | None = None
    for event in loop:
        if not isinstance(event, Tick):
            continue
        if playout is None:  # the first tick is one period after the loop began: time 0
            start_ns = event.deadline_ns - period_ns + delay_frames * frame_ns
            source = s.source or s.files[0].name
            playout = Playout(
                samples, s.frame_ms, start_ns, source=source, loop=s.loop, realtime=s.realtime
            )
        node.publish_many(playout.due(event.now_ns))
        if playout.done:
            log.info("wavsource_done frames=%d", playout.sent)
            if s.exit_when_done:
                return
            loop.tick_s = None  # idle until stopped


if __name__ == "__main__":
    sys.exit(main())
