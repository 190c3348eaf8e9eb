"""The figures of ``bench.e2e``: per line and per set, voicebus beside the reference loop.

:func:`summarise` matches each line to voicebus's first turn for it (the demo records which
scripted line opened each turn) and to the reference loop's turn, over every round, and gives:

- per set (the scripted conversation, the corpus subset) and system: p50/p90 of end to end, of
  the **segment-closed** latency (end of speech -> segment closed) and of the **after-close**
  latency (closed -> first audio), kept apart so the VAD's gain and the pipeline's gain do not
  mix; the targets are end to end p50 <= 700 ms and p90 <= 900 ms;
- voicebus's stage medians (the pause's speculative transcript, transcript, first token, first
  clause, TTS) and how many turns took the speculative transcript;
- STOP: on lines with a stop word, end of speech -> STOP written to the ring (the gateway's
  stamp) p50/p90/max, and how many of them stopped the car;
- the bus's share of each turn, in percent: its time on the bus over all its hops / end to end
  (target below 1 %), and the median of each hop (``TurnMetrics.bus_detail_ms``: each
  message's receive age where it was received), so the hop that costs it shows.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot", "summarise", "table"]

SETS = ("script", "corpus")
STAGES = ("asr_partial_ms", "asr_ms", "llm_ttft_ms", "first_clause_ms", "tts_ms", "first_audio_ms")


def _q(values: list[float], q: float, digits: int = 1) -> float | None:
    if not values:
        return None
    return round(float(np.percentile(values, q * 100, method="inverted_cdf")), digits)


def _stats(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50": _q(values, 0.5), "p90": _q(values, 0.9),
            "max": round(max(values), 1) if values else None}  # fmt: skip


def _set_of(line: dict[str, Any]) -> str:
    return "script" if str(line["id"]).startswith("script-") else "corpus"


def _ours(round_turns: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Line index -> the metrics of voicebus's first turn for it (not an ignored one)."""
    out: dict[int, dict[str, Any]] = {}
    for t in round_turns:
        m = t.get("metrics") or {}
        if t.get("line", -1) >= 0 and m and m.get("outcome") != "ignored":
            out.setdefault(t["line"], m)
    return out


def summarise(lines: list[dict[str, Any]], per_round: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures (see the module docstring)."""
    from text.stopwords import has_stop_word

    rows: dict[int, dict[str, list[float]]] = {i: {} for i in range(len(lines))}
    for rnd in per_round:
        ours = _ours(rnd["voicebus"])
        for i, m in ours.items():
            if m.get("end_to_end_ms", 0) > 0:
                r = rows[i]
                r.setdefault("vb_closed", []).append(m["vad_close_ms"])
                r.setdefault("vb_after", []).append(m["end_to_end_ms"] - m["vad_close_ms"])
                r.setdefault("vb_e2e", []).append(m["end_to_end_ms"])
                r.setdefault("vb_bus_share", []).append(100 * m["bus_ms"] / m["end_to_end_ms"])
                r.setdefault("vb_speculative", []).append(float(bool(m.get("speculative"))))
                for k in STAGES:
                    if m.get(k, 0) > 0:
                        r.setdefault(k, []).append(m[k])
                for k, v in (m.get("bus_detail_ms") or {}).items():
                    r.setdefault(f"{_BUS}{k}", []).append(v)
            if m.get("stop_ms", 0) > 0:
                rows[i].setdefault("stop_ms", []).append(m["stop_ms"])
        for t in rnd["reference"]:
            r = rows[t["line"]]
            after = t["asr_ms"] + t["llm_ms"] + t["tts_ms"]
            r.setdefault("ref_closed", []).append(t["close_ms"])
            r.setdefault("ref_after", []).append(after)
            r.setdefault("ref_e2e", []).append(t["close_ms"] + after)
    sets: dict[str, Any] = {}
    for name in SETS:
        idx = [i for i, x in enumerate(lines) if _set_of(x) == name and x["id"] != "wake"]
        pool = {k: [v for i in idx for v in rows[i].get(k, [])] for k in _KEYS}
        detail = sorted({k for i in idx for k in rows[i] if k.startswith(_BUS)})
        bus_detail = {
            k[len(_BUS) :]: _q([v for i in idx for v in rows[i].get(k, [])], 0.5, 3) for k in detail
        }
        stop_lines = [i for i in idx if has_stop_word(lines[i]["text"])]
        sets[name] = {
            "lines": len(idx),
            "voicebus": {
                "end_to_end_ms": _stats(pool["vb_e2e"]),
                "segment_closed_ms": _stats(pool["vb_closed"]),
                "after_close_ms": _stats(pool["vb_after"]),
                "stages_ms_p50": {k: _q(pool[k], 0.5) for k in STAGES},
                "speculative_share": _mean(pool["vb_speculative"]),
                "bus_share_pct": {
                    "p50": _q(pool["vb_bus_share"], 0.5, 3),
                    "max": _q(pool["vb_bus_share"], 1.0, 3),
                },
                "bus_detail_ms_p50": bus_detail,
            },
            "reference": {
                "end_to_end_ms": _stats(pool["ref_e2e"]),
                "segment_closed_ms": _stats(pool["ref_closed"]),
                "after_close_ms": _stats(pool["ref_after"]),
            },
            "stop": {
                "lines": len(stop_lines),
                "stopped": sum(1 for i in stop_lines for _ in rows[i].get("stop_ms", [])),
                "tries": len(stop_lines) * len(per_round),
                "ring_ms": _stats([v for i in stop_lines for v in rows[i].get("stop_ms", [])]),
            },
        }
    per_line = [
        {"id": x["id"], "kind": x["kind"], "text": x["text"],
         **{k: _q(v, 0.5) for k, v in rows[i].items()}}
        for i, x in enumerate(lines)
    ]  # fmt: skip
    return {"sets": sets, "per_line": per_line, "rounds": len(per_round)}


_BUS = "bus:"  # a row's key for a TurnMetrics.bus_detail_ms entry

_KEYS = ("vb_e2e", "vb_closed", "vb_after", "vb_bus_share", "vb_speculative", "ref_e2e",
         "ref_closed", "ref_after", *STAGES)  # fmt: skip


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def table(summary: dict[str, Any]) -> str:
    """The figures as text."""
    out = [f"end of speech -> first audio, ms (p50 / p90 over {summary['rounds']} round(s))"]
    out.append(f"{'set':8} {'system':10} {'row':16} {'n':>4} {'p50':>8} {'p90':>8} {'max':>8}")
    for name, s in summary["sets"].items():
        for system in ("voicebus", "reference"):
            for row in ("segment_closed_ms", "after_close_ms", "end_to_end_ms"):
                st = s[system][row]
                out.append(
                    f"{name:8} {system:10} {row[:-3]:16} {st['n']:>4} {st['p50']!s:>8} "
                    f"{st['p90']!s:>8} {st['max']!s:>8}"
                )
        vb = s["voicebus"]
        out.append(f"{name:8} voicebus   stages p50: {vb['stages_ms_p50']}")
        out.append(
            f"{name:8} voicebus   speculative {vb['speculative_share']}, bus share p50 "
            f"{vb['bus_share_pct']['p50']} % max {vb['bus_share_pct']['max']} %"
        )
        if vb.get("bus_detail_ms_p50"):
            out.append(f"{name:8} voicebus   bus ms p50 by hop: {vb['bus_detail_ms_p50']}")
        st = s["stop"]
        if st["lines"]:
            out.append(
                f"{name:8} STOP       {st['stopped']} of {st['tries']} stop-word lines stopped the "
                f"car; end of speech -> ring p50 {st['ring_ms']['p50']} p90 {st['ring_ms']['p90']}"
                f" max {st['ring_ms']['max']} ms"
            )
    return "\n".join(out)


def plot(summary: dict[str, Any], path: Path) -> None:
    """p50 bars per set: segment closed and after close, voicebus beside the reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.2))
    labels, y = [], 0.0
    for name, s in summary["sets"].items():
        for system in ("voicebus", "reference"):
            closed = s[system]["segment_closed_ms"]["p50"] or 0.0
            after = s[system]["after_close_ms"]["p50"] or 0.0
            ax.barh(y, closed, color="#8da0cb", label="segment closed" if y == 0 else None)
            ax.barh(y, after, left=closed, color="#fc8d62", label="after close" if y == 0 else None)
            ax.text(closed + after + 20, y, f"{closed + after:.0f} ms", va="center", fontsize=8)
            labels.append((y, f"{name}: {system}"))
            y += 1
    ax.axvline(700, color="grey", lw=0.8, ls="--")
    ax.set_yticks([a for a, _ in labels], [b for _, b in labels], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("end of speech -> first audio, p50 (ms); dashed: the 700 ms target")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
