"""Echo bus messages live, one line each (or JSON lines), filtered by topic globs.

    python -m bus.taps.tap                       # everything
    python -m bus.taps.tap 'vad.*' asr.text      # only these topics
    python -m bus.taps.tap --json 'sys.*' | jq . # one JSON object per line
    python -m bus.taps.tap -n 10 audio.frame     # stop after 10 messages

A line reads ``time topic source#seq age payload``: the time the tap received the message
(wall clock), the publisher and its per-topic sequence number, the message's age when received
(now - its monotonic timestamp; meaningful on one machine), the trace id when set, then the
payload's fields with binary fields shown as their length. Lost messages (sequence gaps) are
marked ``[lost N before]``; frames that cannot be decoded are shown as ``!! malformed`` lines
(in JSON: objects with an ``error`` key) and counted. On exit a summary line goes to stderr.

A tap that cannot keep up (a slow terminal) drops its own messages and counts them; it never
slows the publishers.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from bus.framing import Envelope
from bus.taps.tapcli import add_common_args, connect, jsonable, parser_for, run_cli, summary
from bus.taps.tapnode import Received, TapNode

__all__ = ["format_json", "format_line", "main"]


def format_line(item: Received, msg: Envelope | Exception, lost_before: int = 0) -> str:
    """One human-readable line for a received message."""
    wall = time.strftime("%H:%M:%S", time.localtime()) + f".{int(time.time() * 1000) % 1000:03d}"
    if isinstance(msg, Exception):
        return f"{wall} !! malformed {item.topic!r} ({item.size} B): {msg}"
    age_ms = (item.recv_ns - msg.ts_ns) / 1e6
    trace = f" trace={msg.trace}" if msg.trace else ""
    lost = f" [lost {lost_before} before]" if lost_before else ""
    return (
        f"{wall} {msg.topic} {msg.source}#{msg.seq} age={age_ms:.2f}ms{trace}{lost} {summary(msg)}"
    )


def format_json(item: Received, msg: Envelope | Exception, lost_before: int = 0) -> str:
    """One JSON object (a line) for a received message."""
    obj: dict[str, Any]
    if isinstance(msg, Exception):
        obj = {"recv_ns": item.recv_ns, "topic": item.topic, "bytes": item.size, "error": str(msg)}
    else:
        obj = {
            "recv_ns": item.recv_ns,
            "topic": msg.topic,
            "source": msg.source,
            "instance": msg.instance,
            "seq": msg.seq,
            "ts_ns": msg.ts_ns,
            "age_us": (item.recv_ns - msg.ts_ns) / 1e3,
            "trace": msg.trace,
            "lost_before": lost_before,
            "payload": jsonable(msg.payload),
        }
    return json.dumps(obj, ensure_ascii=False)


def echo(tap: TapNode, out: TextIO, *, as_json: bool, count: int, duration_s: float) -> int:
    """Print messages until stopped, ``count`` messages or ``duration_s``; return how many."""
    fmt = format_json if as_json else format_line
    deadline = time.monotonic() + duration_s if duration_s > 0 else None
    shown = 0
    while tap.running and (count <= 0 or shown < count):
        if deadline is not None and time.monotonic() >= deadline:
            break
        item = tap.get(0.1)
        if item is None:
            continue
        msg = tap.decode(item)
        out.write(fmt(item, msg, tap.last_gap) + "\n")
        out.flush()
        shown += 1
    return shown


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = parser_for("bus.taps.tap", __doc__)
    parser.add_argument("topics", nargs="*", default=["*"], help="topic globs (default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")
    parser.add_argument(
        "-n", "--count", type=int, default=0, help="exit after N messages (0 = no limit)"
    )
    parser.add_argument(
        "--duration", type=float, default=0.0, metavar="S", help="exit after S seconds"
    )
    add_common_args(parser, "tap")
    args = parser.parse_intermixed_args(argv)

    def run() -> int:
        tap, _stop = connect(args, args.topics, publisher=False)
        try:
            print(f"# tap: listening to {' '.join(args.topics)}", file=sys.stderr, flush=True)
            echo(tap, sys.stdout, as_json=args.json, count=args.count, duration_s=args.duration)
        finally:
            tap.close()
            s = tap.stats
            print(
                f"# tap: received={s.received} shown={s.decoded + s.malformed + s.refused_version}"
                f" lost_by_tap={s.lost} gaps={s.gaps} (lost upstream about"
                f" {max(0, s.gaps - s.lost)}) malformed={s.malformed}"
                f" refused_version={s.refused_version}",
                file=sys.stderr,
            )
        return 0

    run_cli(run)
    return 0


if __name__ == "__main__":
    main()
