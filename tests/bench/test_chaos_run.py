"""The chaos bench's short run (``python -m bench.chaos --quick``) through real processes.

Two kill -9 of the dialog during the scripted conversation, each while a turn is in flight (just
after its transcript): no line may be silently lost; each ends answered or with a spoken apology.
The report names every lost line, the fault in flight and where its turn stopped.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.mark.timeout(1500)
def test_no_line_is_silently_lost_when_the_dialog_is_killed_mid_conversation(
    tmp_path: Path,
) -> None:
    results = tmp_path / "chaos_quick.json"
    res = subprocess.run(
        [sys.executable, "-m", "bench.chaos", "--quick", "--out", str(tmp_path / "run"),
         "--results", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=1400,
    )  # fmt: skip
    print(res.stdout[-6000:])
    assert results.is_file(), res.stdout[-3000:] + res.stderr[-3000:]
    report = json.loads(results.read_text())
    assert report["ended"] == "done", report["ended"]
    assert all(f["at_s"] is not None for f in report["faults"]), report["faults"]
    assert len(report["lines"]) >= 6
    lost = [f"line {x['line']} {x['text']!r}: {x['reason']}" for x in report["lost"]]
    assert report["totals"]["lost"] == 0, "silently lost:\n" + "\n".join(lost)
