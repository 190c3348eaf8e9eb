"""bench.bus --quick runs end to end and writes its rows (no timing is asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.busnodes import SubCollector
from bench.busreport import rows_for, verdict
from bench.busrun import SIZES


@pytest.mark.slow
def test_quick_run_writes_a_row_per_system_and_payload(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench.bus", "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads((tmp_path / "bus.json").read_text())
    systems = {r["system"] for r in rows}
    assert {"voicebus", "pyzmq-raw", "voicebus+2taps", "dora-rs"} <= systems
    for r in rows:
        assert {"system", "payload_bytes", "p50_us", "p99_us", "msgs_per_s"} <= set(r)
    measured = [r for r in rows if r["system"] in ("voicebus", "pyzmq-raw")]
    assert sorted({r["payload_bytes"] for r in measured}) == list(SIZES)
    assert all(r["p50_us"] is not None and r["p50_us"] > 0 for r in measured)
    assert "| voicebus | 640 |" in out.stdout


def test_the_subscriber_bookkeeping_ends_phases_and_reports(tmp_path: Path) -> None:
    spec: dict[str, Any] = {
        "ctl": str(tmp_path),
        "out": str(tmp_path / "r.json"),
        "plan": [{"size": 64, "lat_n": 2, "lat_interval_s": 0.001, "burst_n": 3}],
    }
    col = SubCollector(spec)
    col.on(-2, 0, 0, 10)
    assert (tmp_path / "warm").exists()
    col.on(0, 0, 1_000, 11_000)
    col.on(0, 1, 2_000, 12_000)
    assert (tmp_path / "done_0").exists()
    for i in range(3):
        col.on(1, i, 100_000 + i, 1_100_000 + i * 1000)
    col.on(-1, 0, 0, 0)
    assert col.done and (tmp_path / "done_1").exists()
    col.write()
    rows = rows_for("voicebus", [json.loads((tmp_path / "r.json").read_text())], spec["plan"])
    assert rows[0]["p50_us"] == 10.0 and rows[0]["burst_lost"] == 0
    assert rows[0]["msgs_per_s"] == pytest.approx(3 / 1.002e-3, rel=1e-3)
    assert verdict(rows)[0].startswith("voicebus 64 B: p50 10.0 us")


def _row(system: str, size: int, p50: float, p99: float, rate: float) -> dict[str, Any]:
    return {
        "system": system,
        "payload_bytes": size,
        "p50_us": p50,
        "p99_us": p99,
        "msgs_per_s": rate,
        "burst_lost": 0,
        "burst_sent": 10,
    }


def test_the_verdict_applies_the_targets_of_issue_16() -> None:
    rows = [
        _row("pyzmq-raw", 640, 200.0, 900.0, 10_000.0),
        _row("voicebus", 640, 215.0, 950.0, 8_500.0),
        _row("dora-rs", 640, 230.0, 800.0, 5_000.0),
        _row("voicebus", 1048576, 700.0, 3000.0, 100.0),
        _row("voicebus-shm", 1048576, 600.0, 2000.0, 100.0),
        _row("voicebus-frames", 1048576, 1000.0, 2000.0, 100.0),
        _row("dora-rs", 1048576, 500.0, 900.0, 100.0),
    ]
    lines = verdict(rows)
    assert lines[0] == (
        "voicebus 640 B: p50 215.0 us; 1.07x raw pyzmq (200.0 us; target <= 1.1x: met); "
        "dora-rs 230.0 us (target below: met); p99 950.0 us (target <= 1000: met)"
    )
    assert lines[1] == "voicebus 1048576 B: p50 700.0 us; dora-rs 500.0 us (target below: NOT met)"
    assert lines[2] == (
        "voicebus-shm 1048576 B (shared memory read in place, as the asr worker does): p50 "
        "600.0 us; dora-rs 500.0 us (target below: NOT met)"
    )
    assert "= 0.85x raw pyzmq's 10,000 (target >= 0.8x: met)" in lines[3]
    assert lines[4] == (
        "shared memory at 1048576 B: p50 700.0 us with it (the default, copied out of the ring), "
        "1000.0 us without (shm_min_bytes=0: in frames), 600.0 us read in place"
    )


def test_the_verdict_says_in_how_many_rounds_a_target_held() -> None:
    def rounds(system: str, p50: float, p50s: list[float | None]) -> dict[str, Any]:
        row = _row(system, 64, p50, 900.0, 10_000.0)  # p50: of the rounds pooled
        row["round_p50_us"] = p50s
        return row

    rows = [
        rounds("pyzmq-raw", 190.0, [200.0, 180.0, 190.0]),
        rounds("voicebus", 207.0, [210.0, 205.0, None]),  # 1.05x, 1.14x; round 3 failed
        rounds("dora-rs", 215.0, [220.0, 200.0, 230.0]),
    ]
    line = verdict(rows)[0]
    assert "target <= 1.1x: met; in 1 of 2 rounds)" in line
    assert "(target below: met; in 1 of 2 rounds)" in line


@pytest.mark.slow
def test_the_ring_bench_runs_each_variant_with_its_own_bus_keys(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench.busring", "--size", "65536", "--rounds", "1", "--n", "60",
         "--warm", "5", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads((tmp_path / "busring.json").read_text())
    from bench.busring import VARIANTS

    assert {r["variant"] for r in result["rows"]} >= set(VARIANTS)
    assert all(0 < r["n"] <= 55 and r["p50_us"] > 0 for r in result["rows"])  # what arrived
    # each variant ran with its ring and hold: every voicebus run wrote what its ring held back
    assert sum("payloads sent in frame 2" in n for n in result["notes"]) == len(VARIANTS)
    held = {r["variant"]: (r["held_paced"], r["held_burst"]) for r in result["rows"]}
    assert all(0 <= b <= 100 and p == 0 for p, b in (held[v] for v in VARIANTS))
    assert "| sent in frame 2" in (tmp_path / "busring.md").read_text()
