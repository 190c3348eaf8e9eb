"""Bus benchmark: one hop's latency and throughput, voicebus beside raw pyzmq and dora-rs.

    python -m bench.bus            # the full comparison: 3 interleaved rounds of every system,
                                   # JSON + PNG + Markdown in bench/results/ (about 15 min)
    python -m bench.bus --quick    # a short run (< 1 min) that checks the bench works; its
                                   # figures are not comparable (1 round, few messages)

Systems, measured in the same run on this machine, publisher and subscriber in separate
processes:

- ``pyzmq-raw``: pyzmq PUB -> the voicebus proxy (``python -m bus.proxy``, ipc://) -> SUB, frames
  ``[topic, 16-byte header, payload]``, no envelope, no schema;
- ``voicebus``: ``bus.Node`` publishing ``audio.frame`` models (pydantic, msgpack envelope, the
  payload in the raw frame) through the same proxy, decoded and validated by a ``bus.Node``,
  with the bus's defaults: payloads of 64 KiB and more through the publisher's shared-memory
  ring while the proxy says every reader reads it (``sys.bus``; every reader here is a
  voicebus node), copied out of the ring by the subscriber;
- ``voicebus+2taps``: the same while ``python -m bus.taps.tap '*'`` (printing to /dev/null) and
  ``python -m bus.taps.metrics`` are attached to the bus;
- ``pyzmq-direct`` (full run only): raw pyzmq straight from PUB to SUB, no proxy: the floor
  of one ipc hop, to show what the proxy's second hop costs;
- ``voicebus-shm`` (full run only): ``voicebus`` with the subscriber reading shared-memory
  payloads in place (``node.read_in_place``: a view of the ring, one copy in all), as the asr
  worker reads its segments;
- ``voicebus-frames`` (full run only): ``voicebus`` with shared memory off (``shm_min_bytes``
  0): every payload in its ZeroMQ frame, as while a reader that does not read rings is
  connected, and as before issue 16;
- ``dora-rs``: two dora-rs Python nodes (``dora run``; pyarrow arrays, the timestamp in the
  metadata), when ``dora-rs`` and ``dora-rs-cli`` are installed.

Run it on a quiet machine: every system runs once per round, the rounds interleaved, so that
load from other work hits all alike; the load average before and after is in the output, with a
warning when it was high. Latency is measured at a steady rate (one message per
``lat_interval_s``) from a monotonic timestamp taken before the message is built to the moment
the subscriber has it decoded, so it includes building, encoding, both hops through the proxy
and decoding; p50/p99/p999 in us.
Throughput (msgs_per_s) is a burst sent as fast as possible: messages received / (last
receive - first send). ``lost`` counts burst messages that never arrived (pub/sub drops at the
high-water mark rather than block).

The run's processes are :mod:`bench.busrun`, the rows, verdict and plot :mod:`bench.busreport`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.busreport import codec_cost, plot, rows_for, table, verdict
from bench.busrun import FULL, QUICK, QUICK_SYSTEMS, REPO, SYSTEMS, Bench

__all__ = ["main"]

RESULTS = REPO / "bench" / "results"


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.bus",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="short run, JSON only (< 30 s)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=0,
        help="measure every system this many times, interleaved, and pool the rounds "
        "(default 1 with --quick, 3 otherwise: load from other work then hits all alike)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument(
        "--systems",
        default="",
        help=f"comma-separated subset of {SYSTEMS} (default: all; the first four with --quick)",
    )
    args = parser.parse_args(argv)
    systems = [s for s in args.systems.split(",") if s] or list(
        QUICK_SYSTEMS if args.quick else SYSTEMS
    )
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        parser.error(f"unknown systems {sorted(unknown)}; choose from {SYSTEMS}.")
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    results: dict[str, list[dict[str, Any] | None]] = {}
    with tempfile.TemporaryDirectory(prefix="vbbench") as tmp:
        bench = Bench(QUICK if args.quick else FULL, Path(tmp), args.quick)
        bench.start_proxy()
        try:
            for rnd in range(args.rounds):
                for system in systems:
                    t0 = time.monotonic()
                    results.setdefault(system, []).append(bench.measure(system, rnd))
                    print(
                        f"bench.bus: {system} (round {rnd + 1}/{args.rounds}) measured in "
                        f"{time.monotonic() - t0:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
            for system in systems:
                note = bench.dora_note if system == "dora-rs" else ""
                rows += rows_for(system, results[system], bench.plan, note)
        finally:
            bench.stop_proxy()
    elapsed = time.monotonic() - started
    load = os.getloadavg()
    busy = max(load_before[0], load[0]) > 0.5 * (os.cpu_count() or 1)
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, load average {load_before[0]:.1f} "
        f"before / {load[0]:.1f} after"
        + (" (a busy machine shared with other work: figures are pessimistic)" if busy else "")
    )
    (args.out / "bus.json").write_text(json.dumps(rows, indent=1) + "\n")
    text = [
        f"# bench.bus ({'quick' if args.quick else 'full'} run, {args.rounds} round"
        f"{'s' if args.rounds > 1 else ''}, {elapsed:.0f} s)",
        "",
        f"Machine: {machine}.",
        *(
            [
                "",
                "A quick run checks that the bench works; its figures are NOT comparable (one "
                "round, few messages). The figures: `python -m bench.bus` on a quiet machine.",
            ]
            if args.quick
            else []
        ),
        "",
        table(rows),
        "",
        *[f"- {line}" for line in verdict(rows)],
        *[f"- {line}" for line in codec_cost(2000 if args.quick else 20000)],
        *[f"- {n}" for n in bench.notes],
        *[f"- attached tap's own summary: {t}" for t in bench.tap_report],
    ]
    print("\n".join(text))
    if not args.quick:
        (args.out / "bus.md").write_text("\n".join(text) + "\n")
        plot(rows, args.out / "bus.png", machine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
