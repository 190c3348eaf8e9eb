"""Play a recording made by ``bus.taps.record`` back onto the bus.

    python -m bus.taps.replay session.vbrec                 # at the original pace
    python -m bus.taps.replay session.vbrec --fast          # as fast as possible
    python -m bus.taps.replay session.vbrec --speed 2       # twice as fast
    python -m bus.taps.replay session.vbrec 'vad.*' asr.text  # only these topics

Each replayed message keeps its topic, payload, trace id, schema version and raw frame; its
envelope is rewritten with the replayer as the source (``--name``, default ``replay``), fresh
per-topic sequence numbers and the current monotonic time, so subscribers see a live, gap-free
stream from a new publisher. Records whose envelope is not a msgpack map (malformed frames that
were recorded as they travelled) cannot be rewritten and are skipped and counted.

With --fast, a subscriber slower than the replayer loses messages at its own queue, as it would
from any fast publisher (ZeroMQ pub/sub drops rather than blocks).
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgpack

from bus.taps.recordfile import Recording, read
from bus.taps.tapcli import add_common_args, connect, parser_for, run_cli
from bus.topics import matcher

__all__ = ["Rewriter", "main", "replay"]


@dataclass
class ReplayStats:
    """What a replay did."""

    sent: int = 0
    filtered: int = 0
    unreplayable: int = 0


class Rewriter:
    """Rewrites recorded envelopes as if this replayer published them now."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.instance = secrets.randbits(32) | 1
        self._seq: dict[bytes, int] = {}

    def rewrite(self, frames: list[bytes], now_ns: int) -> list[bytes] | None:
        """The frames with a new envelope header, or ``None`` if the envelope is not a map."""
        if len(frames) < 2:
            return None
        try:
            env = msgpack.unpackb(frames[1], raw=False, strict_map_key=False)
        except Exception:  # msgpack raises several unrelated types for bad input
            return None
        if not isinstance(env, dict):
            return None
        seq = self._seq.get(frames[0], 0) + 1
        self._seq[frames[0]] = seq
        env.update(src=self.source, inst=self.instance, seq=seq, ts=now_ns)
        return [frames[0], msgpack.packb(env, use_bin_type=True), *frames[2:]]


def replay(
    rec: Recording,
    send: Callable[[list[bytes]], None],
    rewriter: Rewriter,
    *,
    topics: list[str],
    speed: float,
    running: Callable[[], bool] = lambda: True,
) -> ReplayStats:
    """Publish ``rec``'s records through ``send(frames)``; ``speed`` 0 = as fast as possible."""
    keep = matcher(topics)
    stats = ReplayStats()
    first_ns: int | None = None
    start = time.monotonic_ns()
    for recv_ns, frames in rec.records():
        if not running():
            break
        if not frames or not keep(frames[0].decode("utf-8", "replace")):
            stats.filtered += 1
            continue
        if first_ns is None:
            first_ns = recv_ns
        if speed > 0:
            due = start + int((recv_ns - first_ns) / speed)
            wait = due - time.monotonic_ns()
            if wait > 0:
                time.sleep(wait / 1e9)
        out = rewriter.rewrite(frames, time.monotonic_ns())
        if out is None:
            stats.unreplayable += 1
            continue
        send(out)
        stats.sent += 1
    return stats


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = parser_for("bus.taps.replay", __doc__)
    parser.add_argument("file", type=Path, help="recording made by python -m bus.taps.record")
    parser.add_argument("topics", nargs="*", default=["*"], help="topic globs (default: all)")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--fast", action="store_true", help="as fast as possible")
    pace.add_argument(
        "--speed", type=float, default=1.0, help="pace factor (2 = twice as fast; default 1)"
    )
    add_common_args(parser, "replay", queue=False)
    args = parser.parse_intermixed_args(argv)
    if not args.fast and args.speed <= 0:
        parser.error("--speed must be positive (use --fast for no pacing).")

    def run() -> int:
        rec = read(args.file)
        tap, _stop = connect(args, [])
        print(f"# replay: {args.file} ({' '.join(args.topics)})", file=sys.stderr)
        try:
            stats = replay(
                rec,
                tap.publish_raw,
                Rewriter(args.name),
                topics=list(args.topics),
                speed=0.0 if args.fast else args.speed,
                running=lambda: tap.running,
            )
        finally:
            tap.close()
        cut = " (file cut short: the recording was interrupted)" if rec.truncated else ""
        print(
            f"# replay: sent={stats.sent} filtered={stats.filtered} "
            f"unreplayable={stats.unreplayable}{cut}",
            file=sys.stderr,
        )
        return 0

    run_cli(run)
    return 0


if __name__ == "__main__":
    main()
