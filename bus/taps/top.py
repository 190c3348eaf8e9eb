"""A live table of the bus: traffic per topic and health per worker.

    python -m bus.taps.top                  # redraw every 2 s until Ctrl-C
    python -m bus.taps.top --once           # watch 2 s, print one table, exit
    python -m bus.taps.top --once --json    # the same as one JSON object (for scripts and tests)

Per topic (over the last --window seconds): messages/s, bytes/s (all frames), p50/p99 age of
messages when received (now - the envelope's monotonic timestamp; meaningful when publisher and
tap share a machine), and totals of sequence gaps (messages this tap did not see: lost before
reaching it, or dropped by the tap itself when it was too slow, counted in the header as "lost
by tap") and malformed frames. Per worker (from sys.heartbeat and sys.lifecycle): state
(ready, starting, stopping, silent = no heartbeat for 3 s, or the last lifecycle event such as
exited / gave_up), pid, CPU % and resident memory (psutil, same machine), restarts, and seconds
since its last heartbeat. A worker appears once this tap has heard from it: for the full list
of configured workers use 'python supervisor.py status'. The header shows what this tap itself
lost because it was too slow (never anyone else's messages), and the proxy's last ``sys.bus``:
whether shared memory is on, and how many readers read rings. Below, the last few turns
(``dialog.turn``) with their stages: segment closed, the pause's speculative transcript, the
transcript, first token, first clause, first audio and its TTS, end to end, the STOP in the
ring, and the turn's bus time over all its hops.
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any

from bus.taps.observe import BusObserver, ProcessSampler
from bus.taps.tapcli import add_common_args, connect, parser_for, run_cli
from bus.taps.tapnode import TapNode, TapStats

__all__ = ["main", "render", "snapshot"]


def _num(value: float, fmt: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt % value


def _age(us: float) -> str:
    if math.isnan(us):
        return "-"
    return f"{us:.0f} us" if abs(us) < 1000 else f"{us / 1000:.2f} ms"


def snapshot(
    obs: BusObserver, stats: TapStats, sampler: ProcessSampler | None = None
) -> dict[str, Any]:
    """Everything ``top`` shows, as plain data (NaN becomes ``None``)."""

    def clean(row: dict[str, Any]) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}

    return {
        "time_unix": time.time(),
        "window_s": obs.window_ns / 1e9,
        "tap": {
            "received": stats.received,
            "lost": stats.lost,
            "gaps": stats.gaps,
            "malformed": stats.malformed,
            "refused_version": stats.refused_version,
            "last_error": stats.last_error,
        },
        "topics": [clean(r) for r in obs.topic_rows()],
        "workers": [clean(r) for r in obs.worker_rows(sampler)],
        "turns": [t.model_dump() for t in obs.turns],
        "bus": obs.bus.model_dump() if obs.bus is not None else None,
    }


def render(snap: dict[str, Any]) -> str:
    """The table as text."""
    tap = snap["tap"]
    lines = [
        f"voicebus top  {time.strftime('%H:%M:%S')}  window {snap['window_s']:.0f} s  "
        f"tap: received {tap['received']}  lost by tap {tap['lost']}  "
        f"malformed {tap['malformed'] + tap['refused_version']}",
    ]
    if tap["last_error"]:
        lines.append(f"  last malformed frame: {tap['last_error']}")
    bus = snap.get("bus")
    if bus is not None:
        lines.append(
            f"bus: shared memory {'on' if bus['shm'] else 'OFF'}  readers {bus['readers']}  "
            f"read rings {bus['shm_readers']}  on tcp {bus['remote_readers']}"
            + ("" if bus["shm"] else "  (a reader that does not read rings gets frames)")
        )
    lines.append("")
    lines.append(
        f"{'TOPIC':<22} {'MSG/S':>8} {'KB/S':>9} {'AGE p50':>9} {'AGE p99':>9} "
        f"{'TOTAL':>8} {'GAPS':>6} {'BAD':>5}"
    )
    for t in snap["topics"]:
        lines.append(
            f"{t['topic'][:22]:<22} {t['msgs_per_s']:>8.1f} {t['bytes_per_s'] / 1024:>9.1f} "
            f"{_age(t['age_p50_us'] if t['age_p50_us'] is not None else math.nan):>9} "
            f"{_age(t['age_p99_us'] if t['age_p99_us'] is not None else math.nan):>9} "
            f"{t['messages']:>8} {t['gaps']:>6} {t['malformed']:>5}"
        )
    if not snap["topics"]:
        lines.append("(no traffic yet)")
    lines.append("")
    lines.append(
        f"{'WORKER':<16} {'STATE':<10} {'PID':>7} {'CPU%':>6} {'RSS MB':>7} {'RESTARTS':>8} "
        f"{'BEAT AGO':>8}  LAST EVENT"
    )
    for w in snap["workers"]:
        nan = math.nan
        event = w["last_event"] + (f" ({w['exit_code']})" if w["exit_code"] is not None else "")
        lines.append(
            f"{w['name'][:16]:<16} {w['state']:<10} {w['pid'] or '-':>7} "
            f"{_num(w['cpu_percent'] if w['cpu_percent'] is not None else nan, '%.1f'):>6} "
            f"{_num(w['rss_mb'] if w['rss_mb'] is not None else nan, '%.1f'):>7} "
            f"{w['restarts']:>8} "
            f"{_num(w['beat_age_s'] if w['beat_age_s'] is not None else nan, '%.1fs'):>8}  {event}"
        )
    if not snap["workers"]:
        lines.append("(no heartbeats yet)")
    if snap["turns"]:
        lines.append("")
        lines.append(f"{'LAST TURNS (ms)':<26} {'OUTCOME':<9} " + " ".join(
            f"{h:>{w}}" for h, _, w in _TURN_COLUMNS))  # fmt: skip
        for t in snap["turns"]:
            cells = " ".join(_turn_cell(t, key, w) for _, key, w in _TURN_COLUMNS)
            lines.append(f"{t['user_text'][:26]:<26} {t['outcome']:<9} {cells}")
        lines.append(
            "  VAD end of speech -> segment closed; PAUSE -> the pause's transcript; ASR closed ->"
            " transcript (s: speculative); TTFT/CLAUSE/AUDIO transcript -> first token, first"
            " clause sent, first audio; TTS clause -> its audio; STOP end of speech -> STOP in"
            " the ring; BUS all hops"
        )
    return "\n".join(lines)


#: (heading, dialog.turn field, width) of the LAST TURNS table.
_TURN_COLUMNS = (
    ("VAD", "vad_close_ms", 5), ("PAUSE", "asr_partial_ms", 5), ("ASR", "asr_ms", 5),
    ("TTFT", "llm_ttft_ms", 5), ("CLAUSE", "first_clause_ms", 6), ("TTS", "tts_ms", 5),
    ("AUDIO", "first_audio_ms", 5), ("E2E", "end_to_end_ms", 5), ("STOP", "stop_ms", 5),
    ("BUS", "bus_ms", 5),
)  # fmt: skip


def _turn_cell(t: dict[str, Any], key: str, width: int) -> str:
    value = t.get(key) or 0.0
    if key == "bus_ms":
        return f"{value:>{width}.1f}"
    if not value:
        return f"{'-':>{width}}"
    mark = "s" if key == "asr_ms" and t.get("speculative") else ""
    return f"{f'{value:.0f}{mark}':>{width}}"


def watch(tap: TapNode, obs: BusObserver, sampler: ProcessSampler, until_ns: int) -> None:
    """Feed ``obs`` from ``tap`` until ``until_ns`` (monotonic) or a stop."""
    while tap.running and time.monotonic_ns() < until_ns:
        item = tap.get(min(0.1, max(0.001, (until_ns - time.monotonic_ns()) / 1e9)))
        if item is None:
            continue
        msg = tap.decode(item)
        known = {w.pid for w in obs.workers.values()}
        obs.observe(item, msg, tap.last_gap)
        for w in obs.workers.values():
            if w.pid and w.pid not in known:
                sampler.prime(w.pid)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = parser_for("bus.taps.top", __doc__)
    parser.add_argument("topics", nargs="*", default=["*"], help="topic globs (default: all)")
    parser.add_argument(
        "--interval", type=float, default=2.0, metavar="S", help="refresh period (default 2 s)"
    )
    parser.add_argument(
        "--window", type=float, default=5.0, metavar="S", help="rate/age window (default 5 s)"
    )
    parser.add_argument("--once", action="store_true", help="watch one interval, print, exit")
    parser.add_argument(
        "--json", action="store_true", help="print a JSON object (one line per refresh)"
    )
    add_common_args(parser, "top")
    args = parser.parse_intermixed_args(argv)
    topics = list(args.topics)
    if "*" not in topics and "sys.*" not in topics:
        topics += ["sys.heartbeat", "sys.lifecycle", "sys.bus"]  # worker rows and the bus line

    def run() -> int:
        tap, _stop = connect(args, topics, publisher=False)
        obs = BusObserver(args.window)
        sampler = ProcessSampler()
        print(f"# top: watching {' '.join(topics)}", file=sys.stderr, flush=True)
        try:
            while tap.running:
                watch(tap, obs, sampler, time.monotonic_ns() + int(args.interval * 1e9))
                snap = snapshot(obs, tap.stats, sampler)
                if args.json:
                    text = json.dumps(snap)
                elif args.once:
                    text = render(snap)
                else:
                    text = "\x1b[H\x1b[2J" + render(snap)
                print(text, flush=True)
                if args.once:
                    break
        finally:
            tap.close()
        return 0

    run_cli(run)
    return 0


if __name__ == "__main__":
    main()
