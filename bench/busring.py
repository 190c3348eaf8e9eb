"""The shared-memory ring's size and hold against dora-rs, at one payload size.

    python -m bench.busring                      # 1 MiB, 8 interleaved rounds
    python -m bench.busring --size 65536 --rounds 5

``bench.bus`` measures ``voicebus-shm`` with the bus's defaults only (``shm_ring_bytes`` 32 MiB,
``shm_hold_ms`` 100). This bench separates what the ring's size and the hold do to one hop:
the same paced latency phase as ``bench.bus`` (``--n`` messages, one every 5 ms at 1 MiB, 2 ms
below), then a short burst, for each variant of :data:`VARIANTS` and for dora-rs, in
interleaved rounds (load from other work hits all alike; one round alone is noise on this VM:
dora-rs's own p50 moved between 393 and 603 us from one round to the next in a trial run).
The paced phase's p50 and p90 pooled over the rounds, per round too, the payloads the ring
held back (sent in frame 2) and the load before and after go to ``bench/results/busring.json``
and ``.md``. The first ``--warm`` messages of each run are left out.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.busrun import REPO, Bench

__all__ = ["VARIANTS", "main"]

RESULTS = REPO / "bench" / "results"
MIB = 1 << 20
#: name -> the bus keys the pair runs with (shared memory on for 64 KiB and more).
VARIANTS: dict[str, dict[str, int]] = {
    "ring 32 MiB, hold 100 ms (default)": {"shm_ring_bytes": 32 * MIB, "shm_hold_ms": 100},
    "ring 16 MiB, no hold (before issue 16's hold)": {"shm_ring_bytes": 16 * MIB, "shm_hold_ms": 0},
    "ring 8 MiB, no hold": {"shm_ring_bytes": 8 * MIB, "shm_hold_ms": 0},
}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.busring",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--size", type=int, default=MIB, help="payload, bytes (default 1 MiB)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--n", type=int, default=600, help="paced messages per run")
    parser.add_argument("--warm", type=int, default=50, help="first messages left out")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    interval = 0.005 if args.size > 100_000 else 0.002
    load_before = os.getloadavg()
    started = time.monotonic()
    pooled: dict[str, list[float]] = {}
    rounds: dict[str, list[float]] = {}
    held: dict[str, list[int]] = {}  # variant -> payloads sent in frame 2: [paced, burst]
    with tempfile.TemporaryDirectory(prefix="vbbusring") as tmp:
        bench = Bench([(args.size, args.n, interval, 100)], Path(tmp), quick=False)
        bench.start_proxy()
        try:
            for rnd in range(args.rounds):
                for name, keys in [*VARIANTS.items(), ("dora-rs", None)]:
                    tag = f"v{list(VARIANTS).index(name) if keys else 'dora'}-{rnd}"
                    res = (
                        bench.run_pair(tag, "voicebus", shm=True, extra=keys)
                        if keys is not None
                        else bench.run_dora(tag)
                    )
                    held_file = Path(tmp) / tag / "shm_held.json"  # phase 0 paced, 1 burst
                    if held_file.exists():
                        h = held.setdefault(name, [0, 0])
                        for phase, n in json.loads(held_file.read_text()).items():
                            h[int(phase) % 2] += n
                    lat = (res or {}).get("lat_us", {}).get("0", [])[args.warm :]
                    pooled.setdefault(name, []).extend(lat)
                    rounds.setdefault(name, []).append(
                        round(statistics.median(lat), 1) if lat else float("nan")
                    )
                    print(f"bench.busring: round {rnd + 1} {name}: p50 {rounds[name][-1]} us",
                          file=sys.stderr, flush=True)  # fmt: skip
        finally:
            bench.stop_proxy()
    load_after = os.getloadavg()
    rows: list[dict[str, Any]] = [
        {"variant": name, "n": len(v), "p50_us": _pct(v, 0.5), "p90_us": _pct(v, 0.9),
         "round_p50s_us": rounds[name], "held_paced": held.get(name, [0, 0])[0],
         "held_burst": held.get(name, [0, 0])[1]}
        for name, v in pooled.items() if v
    ]  # fmt: skip
    result = {
        "bench": "busring",
        "size": args.size,
        "rounds": args.rounds,
        "paced": {"n": args.n, "interval_s": interval, "warm_left_out": args.warm},
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "elapsed_s": round(time.monotonic() - started, 1),
        "rows": rows,
        "notes": bench.notes,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "busring.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# Shared-memory ring: size and hold beside dora-rs (`python -m bench.busring`)",
        "",
        f"{args.size} B payloads, {args.rounds} interleaved rounds of {args.n} paced messages "
        f"(one every {interval * 1000:.0f} ms, the first {args.warm} left out); load "
        f"{load_before[0]:.2f} before / {load_after[0]:.2f} after; {result['elapsed_s']} s.",
        "",
        "| variant | p50 | p90 | p50 per round | sent in frame 2 (ring held): paced, burst |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {r['variant']} | {r['p50_us']} us | {r['p90_us']} us | "
            + " / ".join(f"{x:.0f}" for x in r["round_p50s_us"])
            + (
                f" | {r['held_paced']} of {args.n * args.rounds}, {r['held_burst']} of "
                f"{100 * args.rounds} |"
                if r["variant"] in VARIANTS
                else " | |"
            )
            for r in rows
        ),
        "",
        *(f"- {n}" for n in bench.notes if "payloads sent in frame 2" not in n),
    ]
    (args.out / "busring.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
