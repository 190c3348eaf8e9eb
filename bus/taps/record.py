"""Record bus traffic to a file, frames exactly as they travelled, with their receive times.

    python -m bus.taps.record session.vbrec                  # everything, until Ctrl-C
    python -m bus.taps.record mic.vbrec audio.frame 'vad.*'  # only these topics
    python -m bus.taps.record t.vbrec --duration 30          # stop after 30 s

The file is a msgpack stream: a header map, then one ``[recv_ns, [frames...]]`` array per
message (monotonic receive time in ns, the raw ZeroMQ frames, malformed ones included), then a
trailer map with counts on a clean stop; see docs/taps.md. Play it back with
``python -m bus.taps.replay FILE``. An existing file is never overwritten unless --force is given.

If the disk is slower than the bus, the recorder drops the newest messages from its own queue
and counts them (``lost`` in the trailer and the summary); publishers are never slowed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bus.taps.recordfile import RecordWriter
from bus.taps.tapcli import add_common_args, connect, parser_for, run_cli
from bus.taps.tapnode import TapNode

__all__ = ["main", "record"]

_FLUSH_EVERY_S = 0.5


def record(tap: TapNode, writer: RecordWriter, *, count: int, duration_s: float) -> int:
    """Write what ``tap`` receives until stopped, ``count`` records or ``duration_s``."""
    deadline = time.monotonic() + duration_s if duration_s > 0 else None
    next_flush = time.monotonic() + _FLUSH_EVERY_S
    while tap.running and (count <= 0 or writer.records < count):
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            break
        if now >= next_flush:
            writer.flush()
            next_flush = now + _FLUSH_EVERY_S
        item = tap.get(0.1)
        if item is None:
            continue
        writer.write(item.recv_ns, item.frames)
        tap.decode(item)  # counts gaps and malformed frames for the trailer
    return writer.records


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = parser_for("bus.taps.record", __doc__)
    parser.add_argument("file", type=Path, help="recording to create")
    parser.add_argument("topics", nargs="*", default=["*"], help="topic globs (default: all)")
    parser.add_argument("--duration", type=float, default=0.0, metavar="S", help="stop after S s")
    parser.add_argument(
        "-n", "--count", type=int, default=0, help="stop after N messages (0 = no limit)"
    )
    parser.add_argument("--force", action="store_true", help="replace an existing file")
    add_common_args(parser, "record")
    parser.set_defaults(queue=100_000)
    args = parser.parse_intermixed_args(argv)

    def run() -> int:
        writer = RecordWriter(args.file, list(args.topics), args.name, overwrite=args.force)
        try:
            tap, _stop = connect(args, args.topics, publisher=False)
        except BaseException:
            writer.close()
            args.file.unlink(missing_ok=True)
            raise
        print(
            f"# record: writing {args.file} ({' '.join(args.topics)})", file=sys.stderr, flush=True
        )
        try:
            record(tap, writer, count=args.count, duration_s=args.duration)
        finally:
            tap.close()
            # what the receiver queued before the stop is written too
            while (item := tap.get(0)) is not None and (
                args.count <= 0 or writer.records < args.count
            ):
                writer.write(item.recv_ns, item.frames)
                tap.decode(item)
            s = tap.stats
            writer.close(lost=s.lost, gaps=s.gaps, malformed=s.malformed + s.refused_version)
            print(
                f"# record: {writer.records} messages in {args.file}; lost_by_recorder={s.lost}"
                f" gaps={s.gaps} malformed={s.malformed + s.refused_version}",
                file=sys.stderr,
            )
        return 0

    run_cli(run)
    return 0


if __name__ == "__main__":
    main()
