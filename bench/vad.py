"""VAD benchmark: the ``vad`` worker's segmenter beside the reference 0.5 s-block loop.

    python -m bench.vad               # sweep, comparison, 10-minute CPU-hog run; JSON + PNG
    python -m bench.vad --quick       # defaults only, fewer files, 30 s hog run; JSON only

Corpus: ``bench.corpus`` (espeak-ng English and Chinese, 2-3 s gaps, white and pink noise at 20/10/5
dB SNR), written under ``bench/results/tmp/``. Three of the ten sentences of each language are held
back (``bench.vadeval.HELD_TEXTS``): the sweep chooses the defaults on the other seven, and the
figures are reported on the held-back ones (the tuning ones beside them). Measured in the same run
for both systems, per noise condition: missed and false segments, start/end boundary error (ms), end
of speech -> segment closed latency (ms), CPU seconds per second of audio. The reference loop is
``bench.vadref`` (re-implemented from the facts sheet). The segmenter's close latency is the stream
time of the frame that decided plus the measured CPU time per frame.

The full run also sweeps webrtcvad aggressiveness x energy gate, frame length x start trigger,
noise-floor percentile x gate, the continuation rule and the hangover; the ``vad`` worker's
defaults (``workers/vad/segmenter.py`` and ``classifier.py``) are the choice printed here.
Then ``bench.vadhog`` runs wavsource -> vad as processes on the real bus with all cores saturated
and counts lost frames by index and sequence number. The scoring is ``bench.vadeval``, the sweep
``bench.vadsweep``.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np

from bench.corpus import make_corpus
from bench.vadeval import CONDITIONS, HELD_TEXTS, run_ours, run_reference, summary
from bench.vadhog import hog_run
from bench.vadsweep import sweep
from workers.vad.pipeline import VadSettings

__all__ = ["main"]

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"


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
    fig.suptitle(
        f"VAD, held-back sentences: vad worker vs reference 0.5 s-block loop ({subtitle}){note}",
        fontsize=10,
    )
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
    splits = ("held", "tune")
    ours_by = {sp: summary(run_ours(manifest, chosen, split=sp)) for sp in splits}
    ref_by = {sp: summary(run_reference(manifest, split=sp)) for sp in splits}
    ours, ref = ours_by["held"], ref_by["held"]
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
        "split": {"tuned_on": "tune", "reported": "held", "held_texts": sorted(HELD_TEXTS)},
        "ours": ours,
        "reference": ref,
        "ours_tune": ours_by["tune"],
        "reference_tune": ref_by["tune"],
        "hog": hog,
        "sweep": rows,
    }
    print("\nheld-back sentences (reported):")
    _print(ours, ref, hog, chosen, chosen == defaults)
    print("\ntuning sentences (chosen on):")
    _print(ours_by["tune"], ref_by["tune"], None, chosen, chosen == defaults)
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
