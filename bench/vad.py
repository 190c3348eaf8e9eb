"""VAD benchmark: the ``vad`` worker's segmenter beside the reference 0.5 s-block loop.

    python -m bench.vad               # sweep, comparison, 10-minute CPU-hog run; JSON + PNG
    python -m bench.vad --quick       # defaults only, fewer files, 30 s hog run; JSON only

Corpus: ``bench.corpus`` (espeak-ng English and Chinese, 2-3 s gaps, white and pink noise at
20/10/5 dB SNR), written under ``bench/results/tmp/``. Measured in the same run for both
systems, per noise condition: missed and false segments, start/end boundary error (ms), end of
speech -> segment closed latency (ms), CPU seconds per second of audio. The reference loop is
``bench.vadref`` (re-implemented from the facts sheet). The segmenter's close latency is the
stream time of the frame that decided plus the measured CPU time per frame.

The full run also sweeps webrtcvad aggressiveness x energy gate, frame length x start trigger,
noise-floor percentile x gate, the continuation rule and the hangover; the ``vad`` worker's
defaults (``workers/vad/segmenter.py`` and ``classifier.py``) are the choice printed here.
Then ``bench.vadhog`` runs wavsource -> vad as processes on the real bus with all cores saturated
and counts lost frames by index and sequence number.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from audio.wavio import read_wav
from bench.corpus import Manifest, make_corpus
from bench.vadeval import classify_frames, pct, score, segment_frames
from bench.vadhog import hog_run
from bench.vadref import reference_loop
from workers.vad.pipeline import VadSettings

__all__ = ["main"]

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
CONDITIONS = ("clean", "20 dB", "10 dB", "5 dB")


def _cond(f: Any) -> str:
    return "clean" if f.snr_db is None else f"{f.snr_db:g} dB"


def run_ours(manifest: Manifest, s: VadSettings, cache: dict | None = None) -> dict[str, Any]:
    """Segment every file with settings ``s``; per-condition scores and CPU."""
    agg: dict[str, dict[str, Any]] = {}
    cpu_s = audio_s = 0.0
    frames_total = 0
    for f in manifest.files:
        key = (f.path, s.frame_ms, s.classifier_params())
        if cache is not None and key in cache:
            frames, c_cpu = cache[key]
        else:
            frames, c_cpu = classify_frames(read_wav(f.path), s.frame_ms, s.classifier_params())
            if cache is not None:
                cache[key] = (frames, c_cpu)
        dets, s_cpu = segment_frames(frames, s.segmenter_params())
        cpu_s += c_cpu + s_cpu
        audio_s += f.duration_s
        frames_total += len(frames)
        _merge(agg.setdefault(_cond(f), {}), score(dets, f.utterances))
    per_frame_s = cpu_s / max(1, frames_total)
    for a in agg.values():  # the decision is known once the frame is processed
        a["latency_ms"] = [x + 1000 * per_frame_s for x in a["latency_ms"]]
    return {"conditions": agg, "cpu_s_per_audio_s": cpu_s / audio_s}


def run_reference(manifest: Manifest) -> dict[str, Any]:
    """The reference loop over every file; per-condition scores and CPU."""
    agg: dict[str, dict[str, Any]] = {}
    cpu_s = audio_s = 0.0
    for f in manifest.files:
        x = read_wav(f.path)
        t = time.process_time()
        segs = reference_loop(x)
        cpu_s += time.process_time() - t
        audio_s += f.duration_s
        _merge(agg.setdefault(_cond(f), {}), score(segs, f.utterances))  # type: ignore[arg-type]
    return {"conditions": agg, "cpu_s_per_audio_s": cpu_s / audio_s}


def _merge(into: dict[str, Any], s: dict[str, Any]) -> None:
    for k, v in s.items():
        into[k] = into.get(k, [] if isinstance(v, list) else 0) + v


def summary(res: dict[str, Any]) -> dict[str, Any]:
    """Scalar figures per condition."""
    out: dict[str, Any] = {"cpu_ms_per_audio_s": round(1000 * res["cpu_s_per_audio_s"], 2)}
    for cond in CONDITIONS:
        a = res["conditions"].get(cond)
        if a is None:
            continue
        both = [abs(x) for x in a["start_err_ms"] + a["end_err_ms"]]
        out[cond] = {
            "utterances": a["utterances"],
            "missed": a["missed"],
            "false": a["false"],
            "boundary_err_ms_mean": _r(float(np.mean(both)) if both else None),
            "boundary_err_ms_p90": _r(pct(both, 0.9)),
            "start_err_ms_mean": _r(_mean(a["start_err_ms"])),
            "end_err_ms_mean": _r(_mean(a["end_err_ms"])),
            "close_latency_ms_p50": _r(pct(a["latency_ms"], 0.5)),
            "close_latency_ms_p90": _r(pct(a["latency_ms"], 0.9)),
            "close_latency_ms_max": _r(max(a["latency_ms"], default=None)),
        }
    return out


def _mean(v: list[float]) -> float | None:
    return float(np.mean(v)) if v else None


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


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
        summ = summary(run_ours(manifest, s, cache))
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


def plot(ours: dict, ref: dict, hog: dict | None, path: Path, subtitle: str) -> None:
    """Side-by-side bars per condition: boundary error, close latency, missed+false."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conds = [c for c in CONDITIONS if c in ours]
    x = np.arange(len(conds))
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    panels = [
        ("boundary_err_ms_mean", "mean |boundary error| (ms)"),
        ("close_latency_ms_p50", "end of speech -> closed, p50 (ms)"),
        (None, "missed + false segments"),
    ]
    for ax, (key, title) in zip(axes, panels, strict=True):
        for off, (name, res) in ((-0.2, ("vad worker", ours)), (0.2, ("reference loop", ref))):
            vals = [
                (res[c][key] or 0) if key else res[c]["missed"] + res[c]["false"] for c in conds
            ]
            bars = ax.bar(x + off, vals, 0.4, label=name)
            ax.bar_label(bars, fmt="%.0f", fontsize=8)
        ax.set_xticks(x, conds)
        ax.set_title(title, fontsize=10)
    axes[0].legend(fontsize=8)
    note = ""
    if hog:
        note = (
            f"  |  CPU-hog run {hog['seconds']:.0f} s, {hog['hogs']} hogs on {hog['cores']} "
            f"cores: {hog['frames_received']} frames, lost {hog['frame_index_gaps']}"
        )
    fig.suptitle(f"VAD: vad worker vs reference 0.5 s-block loop ({subtitle}){note}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print and save the figures."""
    ap = argparse.ArgumentParser(
        prog="python -m bench.vad",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--quick", action="store_true", help="short run for CI (no sweep, no PNG)")
    ap.add_argument("--hog-seconds", type=float, help="length of the CPU-hog run (600 full)")
    ap.add_argument("--no-sweep", action="store_true", help="use the current defaults as they are")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    corpus_dir = RESULTS / "tmp" / ("vad_corpus_quick" if args.quick else "vad_corpus")
    print(f"corpus -> {corpus_dir}")
    if args.quick:
        manifest = make_corpus(corpus_dir, snrs_db=(10.0,), noises=("white", "pink"))
    else:
        manifest = make_corpus(corpus_dir)
    defaults = VadSettings()
    chosen, rows = defaults, list[dict[str, Any]]()
    if not (args.quick or args.no_sweep):
        print("sweep:")
        chosen, rows = sweep(manifest, defaults)
    ours = summary(run_ours(manifest, chosen))
    ref = summary(run_reference(manifest))
    hog_s = args.hog_seconds if args.hog_seconds is not None else (30.0 if args.quick else 600.0)
    print(f"CPU-hog run: {hog_s:.0f} s ...")
    hog = hog_run(manifest, hog_s) if hog_s > 0 else None
    machine = f"{platform.machine()}, {__import__('os').cpu_count()} cores"
    result = {
        "machine": machine,
        "quick": args.quick,
        "corpus": {
            "files": len(manifest.files),
            "audio_s": round(sum(f.duration_s for f in manifest.files), 1),
        },
        "settings": chosen.model_dump(),
        "defaults_match_choice": chosen == defaults,
        "ours": ours,
        "reference": ref,
        "hog": hog,
        "sweep": rows,
    }
    _print(ours, ref, hog, chosen, chosen == defaults)
    args.out.mkdir(parents=True, exist_ok=True)
    name = "vad_quick.json" if args.quick else "vad.json"
    (args.out / name).write_text(json.dumps(result, indent=1) + "\n")
    if not args.quick:
        plot(ours, ref, hog, args.out / "vad.png", machine)
    print(f"saved {args.out / name}")
    return 0


def _print(ours: dict, ref: dict, hog: dict | None, chosen: VadSettings, same: bool) -> None:
    print(f"\nsettings: {chosen.model_dump()}  (worker defaults {'=' if same else '!='} choice)")
    print(
        f"{'condition':9} {'system':10} {'miss':>4} {'false':>5} {'|bnd| ms':>8} "
        f"{'p90':>6} {'close p50':>9} {'p90':>6} {'max':>6}"
    )
    for cond in CONDITIONS:
        for name, res in (("vad", ours), ("reference", ref)):
            c = res.get(cond)
            if c:
                print(
                    f"{cond:9} {name:10} {c['missed']:>4} {c['false']:>5} "
                    f"{c['boundary_err_ms_mean']!s:>8} {c['boundary_err_ms_p90']!s:>6} "
                    f"{c['close_latency_ms_p50']!s:>9} {c['close_latency_ms_p90']!s:>6} "
                    f"{c['close_latency_ms_max']!s:>6}"
                )
    print(
        f"CPU ms per audio s: vad {ours['cpu_ms_per_audio_s']}, "
        f"reference {ref['cpu_ms_per_audio_s']}"
    )
    if hog:
        print(f"hog run: {json.dumps(hog)}")


if __name__ == "__main__":
    raise SystemExit(main())
