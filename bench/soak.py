"""Soak: the scripted conversation over and over through the whole pipeline.

    python -m bench.soak                 # 30 minutes, bench/results/soak.json
    python -m bench.soak --minutes 2     # a short one

Runs ``python -m demo --soak-s`` (``configs/host.yaml``, every worker a process) and
saves what it recorded: the resident memory of every worker after the first round (models
loaded, warm) and at the end, restarts, messages detected lost (sequence gaps at each worker)
and frames dropped, turns completed by outcome, lines that got no turn, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

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
    args = parser.parse_args(argv)
    minutes = 2.0 if args.quick else args.minutes
    out = RESULTS / "tmp" / "soak"
    load_start = os.getloadavg()
    res = subprocess.run(
        [sys.executable, "-m", "demo", "--out", str(out), "--soak-s", str(minutes * 60)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    (out / "transcript.txt").write_text(res.stdout)
    record = json.loads((out / "soak.json").read_text()) if (out / "soak.json").exists() else {}
    record["exit_code"] = res.returncode
    record["loadavg_start"], record["loadavg_end"] = load_start, os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "soak.json" if not args.quick else "soak_quick.json"
    (RESULTS / name).write_text(json.dumps(record, indent=2))
    print(
        f"{record.get('duration_s', 0) / 60:.1f} min, {record.get('rounds')} rounds, "
        f"turns {record.get('turns')}, lines without a turn {record.get('lines_without_a_turn')}"
    )
    for w, r in record.get("workers", {}).items():
        print(
            f"  {w:10s} RSS {r['rss_mib_start'] or 0:7.1f} -> {r['rss_mib_end'] or 0:7.1f} MiB"
            f"  restarts {r['restarts']}  lost {r['messages_lost']}  dropped {r['frames_dropped']}"
        )
    print(f"exit {res.returncode}; saved {RESULTS / name}")
    return res.returncode


if __name__ == "__main__":
    raise SystemExit(main())
