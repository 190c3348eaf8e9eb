"""bench.ivmr's pieces work (the figures themselves belong in bench/results, not in asserts)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench import ivmr


def test_in_process_phase_moves_records_without_errors() -> None:
    subprocess.run(["make", "-s", "-C", str(Path(ivmr.REPO) / "rtos")], check=True)
    out = ivmr.in_process(0.05)
    assert out["batched_64"]["msgs_per_s"] > 0 and out["unbatched"]["msgs_per_s"] > 0
    assert out["errors"] == {"rx_crc_err": 0, "rx_seq_gap": 0, "rx_proto_err": 0}


def test_median_run_picks_the_middle_by_the_slower_direction() -> None:
    runs = [
        {"linux_to_rt": {"msgs_per_s": a}, "rt_to_linux": {"msgs_per_s": b}}
        for a, b in ((10, 9), (30, 1), (20, 20))
    ]
    assert ivmr._median_run(runs)["linux_to_rt"]["msgs_per_s"] == 10
