"""How ``bench.vad`` chose the ``vad`` worker's defaults: a staged sweep over the corpus.

Stage by stage, each keeping the best of the one before: webrtcvad aggressiveness x energy gate,
frame length x start trigger, noise-floor percentile x gate, the continuation rule, then the
hangover (the shortest that splits no utterance at >= 10 dB, plus 100 ms of margin). The ranking
is :func:`_rank`: errors at clean/20/10 dB, then at 5 dB, then the mean boundary error. Every
trial is scored on the tuning sentences only (``bench.vadeval.HELD_TEXTS`` are held back).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.corpus import Manifest
from bench.vadeval import run_ours, summary
from workers.vad.pipeline import VadSettings

__all__ = ["sweep"]


def _rank(summ: dict[str, Any]) -> tuple:
    """Sort key: errors at >= 10 dB, then at 5 dB, then boundary error on clean and 10 dB."""

    def errs(conds: tuple[str, ...]) -> int:
        return sum(summ[c]["missed"] + summ[c]["false"] for c in conds if c in summ)

    bound = np.mean(
        [summ[c]["boundary_err_ms_mean"] or 1e9 for c in ("clean", "10 dB") if c in summ]
    )
    return (errs(("clean", "20 dB", "10 dB")), errs(("5 dB",)), round(float(bound), 1))


def sweep(manifest: Manifest, base: VadSettings) -> tuple[VadSettings, list[dict[str, Any]]]:
    """Choose the defaults: aggressiveness x gate, frame x trigger, noise floor x gate,
    continuation, hangover (each stage keeps the best of the one before)."""
    rows: list[dict[str, Any]] = []
    cache: dict = {}

    def trial(stage: str, **kw: Any) -> tuple[tuple, VadSettings]:
        s = base.model_copy(update=kw)
        summ = summary(run_ours(manifest, s, cache, split="tune"))
        rank = _rank(summ)
        rows.append(
            {
                "stage": stage,
                **kw,
                "rank": rank,
                "latency_p50_10db": summ.get("10 dB", {}).get("close_latency_ms_p50"),
            }
        )
        print(
            f"  {stage:9} {kw} -> errors>=10dB {rank[0]}, errors@5dB {rank[1]}, "
            f"boundary {rank[2]} ms"
        )
        return rank, s

    best = min(
        (
            trial("vad", aggressiveness=a, gate_db=g)
            for a in (0, 1, 2, 3)
            for g in (None, 3.0, 6.0, 9.0)
        ),
        key=lambda t: t[0],
    )[1]
    cache.clear()
    trig = [(2, 3), (3, 5), (4, 6), (5, 8)]
    best = min(
        (
            trial(
                "trigger",
                aggressiveness=best.aggressiveness,
                gate_db=best.gate_db,
                frame_ms=fm,
                start_voiced=k,
                start_window=n,
            )
            for fm in (10, 20, 30)
            for k, n in trig
        ),
        key=lambda t: t[0],
    )[1]
    best = min(
        (
            trial("floor", **{**_chosen(best), "floor_percentile": q, "gate_db": g})
            for q in (0.0, 10.0, 20.0, 30.0)
            for g in (3.0, 6.0, 9.0)
        ),
        key=lambda t: t[0],
    )[1]
    cache.clear()
    best = min(
        (trial("continue", **{**_chosen(best), "continue_voiced": c}) for c in (1, 2, 3)),
        key=lambda t: t[0],
    )[1]
    # Hangover: the shortest that splits no utterance at its internal pauses, plus 100 ms margin.
    ok = []
    for h in (150, 200, 250, 300, 400, 500, 600):
        rank, _ = trial(
            "hangover",
            **{**_chosen(best), "hangover_ms": h, "post_roll_ms": min(best.post_roll_ms, h)},
        )
        if rank[0] == 0:
            ok.append(h)
    hang = min(ok) + 100 if ok else base.hangover_ms
    chosen = best.model_copy(
        update={"hangover_ms": hang, "post_roll_ms": min(best.post_roll_ms, hang)}
    )
    return chosen, rows


def _chosen(s: VadSettings) -> dict[str, Any]:
    keys = (
        "aggressiveness",
        "gate_db",
        "frame_ms",
        "start_voiced",
        "start_window",
        "continue_voiced",
        "floor_percentile",
    )
    return {k: getattr(s, k) for k in keys}
