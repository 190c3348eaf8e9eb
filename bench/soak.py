"""Soak: the scripted conversation over and over through the whole pipeline, under an LLM load.

    python -m bench.soak                 # 30 minutes, bench/results/soak.json
    python -m bench.soak --minutes 2     # a short one (--quick: 2 minutes, soak_quick.json)
    python -m bench.soak --llm-load 0    # without the extra LLM load

Runs ``python -m demo --soak-s`` (``configs/host.yaml``, every worker a process) while
``--llm-load`` extra llama.cpp generators (:mod:`bench.llmload`, one thread each) keep the CPU
busy, and saves what the demo recorded (:mod:`demo.soak`):

- **audio frames lost at the VAD**: the VAD's own counter (``vad.frames_lost``: frames whose
  index never reached it), with the frames it received and the messages it detected lost on
  the bus (the target of ARCHITECTURE.md: 0 while an LLM saturates the CPU);
- **memory**: the resident memory of every worker (and the RT app) every ``--sample-s`` from the
  end of the first round (models loaded, warm) to the end: start, end, max, growth and its slope
  (MiB per hour), and the samples themselves;
- restarts, messages lost at each worker (sequence gaps), frames refused as malformed, turns by
  outcome, lines that got no turn, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"


def main(argv: list[str] | None = None) -> int:
    """Run, print, save."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true", help="two minutes")
    parser.add_argument("--llm-load", type=int, default=1, help="extra LLM generators (1)")
    parser.add_argument("--sample-s", type=float, default=60.0, help="memory sample period")
    args = parser.parse_args(argv)
    minutes = 2.0 if args.quick else args.minutes
    sample_s = min(args.sample_s, 20.0) if args.quick else args.sample_s
    out = RESULTS / "tmp" / "soak"
    out.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()
    hog_log = (out / "llmload.log").open("wb")
    hogs = [
        subprocess.Popen([sys.executable, "-m", "bench.llmload"], cwd=REPO, stderr=hog_log)
        for _ in range(args.llm_load)
    ]
    try:
        res = subprocess.run(
            [sys.executable, "-m", "demo", "--out", str(out), "--soak-s", str(minutes * 60),
             "--sample-s", str(sample_s)],
            cwd=REPO, capture_output=True, text=True,
        )  # fmt: skip
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
        hog_log.close()
    (out / "transcript.txt").write_text(res.stdout + res.stderr)
    record = json.loads((out / "soak.json").read_text()) if (out / "soak.json").exists() else {}
    record["exit_code"] = res.returncode
    record["llm_load_processes"] = args.llm_load
    record["loadavg_start"], record["loadavg_end"] = load_start, os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "soak.json" if not args.quick else "soak_quick.json"
    (RESULTS / name).write_text(json.dumps(record, indent=2))
    _print(record)
    print(f"exit {res.returncode}; saved {RESULTS / name}")
    return res.returncode


def _print(record: dict[str, Any]) -> None:
    vad = record.get("vad", {})
    print(
        f"{record.get('duration_s', 0) / 60:.1f} min, {record.get('rounds')} rounds, "
        f"turns {record.get('turns')}, lines without a turn {record.get('lines_without_a_turn')}, "
        f"LLM load {record['llm_load_processes']} process(es)"
    )
    print(
        f"audio frames lost at the VAD: {vad.get('audio_frames_lost')} of "
        f"{vad.get('frames_received')} received (messages lost on the bus: "
        f"{vad.get('messages_lost')})"
    )
    for w, r in record.get("workers", {}).items():
        slope = r.get("growth_mib_per_hour")
        print(
            f"  {w:10s} RSS {r['rss_mib_start'] or 0:7.1f} -> {r['rss_mib_end'] or 0:7.1f} MiB"
            f" (max {r['rss_mib_max'] or 0:7.1f}, "
            f"{'-' if slope is None else f'{slope:+.1f}'} MiB/h)  restarts {r['restarts']}"
            f"  lost {r['messages_lost']}  refused {r['frames_refused']}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
