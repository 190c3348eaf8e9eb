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
