"""The results of a chaos run: per fault kind, the baseline, the lost lines; the printed table.

:func:`summarise` turns the ledger's lines and the driver's faults into the ``by_fault``,
``baseline``, ``totals`` and ``lost`` sections of ``bench/results/chaos.json``; :func:`report`
prints them.
"""

from __future__ import annotations

import statistics
from typing import Any

from bench.chaosfaults import Fault
from bench.chaosledger import Ledger, LineRecord

__all__ = ["VERDICTS", "report", "summarise"]

VERDICTS = ("answered", "apologised", "lost")


def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median_s": round(statistics.median(values), 3),
        "max_s": round(max(values), 3),
        "values_s": [round(v, 3) for v in values],
    }


def summarise(lines: list[LineRecord], faults: list[Fault], ledger: Ledger) -> dict[str, Any]:
    """Per fault kind: verdicts of the line during it and of the line after it, how many of their
    replies were incomplete, recovery times; the baseline (lines far from any fault); the lost
    lines with the fault in flight and the one before."""
    by_n = {rec.n: rec for rec in lines}
    faulted = {f.line for f in faults}
    by_kind: dict[str, dict[str, Any]] = {}
    for f in faults:
        row = by_kind.setdefault(
            f.kind,
            {
                "faults": 0,
                "injected": 0,
                "during": dict.fromkeys(VERDICTS, 0),
                "after": dict.fromkeys(VERDICTS, 0),
                "incomplete_replies": 0,
                "ready": [],
                "answer": [],
            },
        )
        row["faults"] += 1
        if f.at < 0:
            continue
        row["injected"] += 1
        for key, n in (("during", f.line), ("after", f.line + 1)):
            rec = by_n.get(n)
            if rec is not None and rec.verdict:
                row[key][rec.verdict] += 1
                row["incomplete_replies"] += rec.complete is False
        if f.ready_at >= 0:
            row["ready"].append(f.ready_at - f.at)
        answered = ledger.answered_after(f.at)
        if answered >= 0:
            row["answer"].append(answered - f.at)
    for row in by_kind.values():
        row["fault_to_ready"] = _stats(row.pop("ready"))
        row["fault_to_next_answer"] = _stats(row.pop("answer"))
    baseline = dict.fromkeys(VERDICTS, 0)
    for rec in lines:
        if rec.n not in faulted and rec.n - 1 not in faulted and rec.verdict:
            baseline[rec.verdict] += 1
    lost = []
    for rec in lines:
        if rec.verdict != "lost":
            continue
        before = [f for f in faults if 0 <= f.at < rec.said_at and f.line != rec.n]
        prev = max(before, key=lambda f: f.at) if before else None
        lost.append(
            {
                "line": rec.n,
                "text": rec.text,
                "fault_in_flight": rec.fault or None,
                "previous_fault": (
                    {
                        "kind": prev.kind,
                        "line": prev.line,
                        "before_s": round(rec.said_at - prev.at, 1),
                    }
                    if prev is not None
                    else None
                ),
                "reason": rec.reason,
            }
        )
    totals = dict.fromkeys(VERDICTS, 0)
    for rec in lines:
        if rec.verdict:
            totals[rec.verdict] += 1
    return {"totals": totals, "by_fault": by_kind, "baseline": baseline, "lost": lost}


def report(result: dict[str, Any]) -> None:
    """Print the table and the lost lines."""
    print(f"\nChaos run ({result['ended']}, {result['duration_s']:.0f} s): {result['totals']}")
    print(
        f"{'fault':18s} n  during a/ap/lost  after a/ap/lost  incomplete"
        "  ->ready (med)  ->answer (med)"
    )
    for kind, row in sorted(result["by_fault"].items()):
        d, a = row["during"], row["after"]
        ready = row["fault_to_ready"].get("median_s", "-")
        answer = row["fault_to_next_answer"].get("median_s", "-")
        print(
            f"{kind:18s} {row['injected']:<2d} {d['answered']:3d}/{d['apologised']}/{d['lost']:<8d}"
            f" {a['answered']:3d}/{a['apologised']}/{a['lost']:<8d} {row['incomplete_replies']:>6d}"
            f"      {ready:>10}  {answer:>10}"
        )
    b = result["baseline"]
    print(f"{'(no fault near)':18s}    {b['answered']:3d}/{b['apologised']}/{b['lost']}")
    for row in result["lost"]:
        prev = row["previous_fault"]
        why = f"during {row['fault_in_flight']}" if row["fault_in_flight"] else "no fault in flight"
        if prev:
            why += f"; {prev['before_s']:.0f} s after {prev['kind']} (line {prev['line']})"
        print(f"  LOST line {row['line']} {row['text']!r}: {why}: {row['reason']}")
