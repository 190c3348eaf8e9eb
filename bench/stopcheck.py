"""STOP recall with and without the second opinion on short audio (``asr.stop_check``).

    python -m bench.stopcheck            # the three understanding corpora, every English file
    python -m bench.stopcheck --quick    # 3 lines per corpus and split: it works

Every English line of ``bench/data/understanding.yaml``, ``understanding_blind.yaml`` and
``understanding_blind2.yaml``, in every voice and noise ``bench.understanding_audio`` makes
(cached), cut as the VAD would cut it (as ``bench.understanding`` does), is recognised by the
main recogniser of ``configs/host.yaml`` and, when ``StopChecked.recheck`` would ask again (audio
of at most ``max_audio_s``, no stop word in the main transcript), by both of its steps, each on
its own: the main model's other hypotheses (``alternatives``, when set) and the ``stop_check``
model: the worker's own classes (``workers.asr.backends.open_recognizer``), with host.yaml's
settings. So the same run gives the check model alone and both steps (the worker reads the
hypotheses first and asks the check model only when they hold no stop word). With
``spotter_threshold`` set, the stop-word spotter (``workers/asr/spotter.py``) is scored too, on
the same files, after the other steps so that its time is its own (the worker asks it first):
its probability per file and the recall and false STOPs of all the steps together.

For each corpus and split: STOP recall on the lines that want the car stopped (category
``stop``) and false STOPs on the lines without a stop word (a STOP there is a false command in
``bench.understanding``), by the main recogniser alone, with the check model, and with the
hypotheses and the check model; the files asked about again and the time of each step. The
rules (``max_audio_s``, ``max_words``; ``alternatives``, ``alternatives_margin``) were chosen on
the tuning split (main corpus ``tune``, blind ``-pNN``, blind2 ``-rNN``/``tune``); report the
held-back split. What the dialog does with a transcript is left out: a STOP is sent for
``workers.asr.stopcheck.heard_stop`` (the dialog's own matcher and sound-alikes). Saved in
``bench/results/stopcheck.json`` and ``stopcheck.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
CORPORA = ("understanding.yaml", "understanding_blind.yaml", "understanding_blind2.yaml")


def run(quick: bool) -> dict[str, Any]:
    """Every file's two transcripts, and the figures."""
    from bench.understanding import HostSettings, _segment
    from bench.understanding_audio import build_audio
    from bench.understanding_corpus import load_corpus
    from workers.asr.backends import open_recognizer
    from workers.asr.stopcheck import StopChecked, heard_stop

    host = HostSettings()
    if host.asr.stop_check is None:
        raise SystemExit("configs/host.yaml sets no asr.stop_check: nothing to measure.")
    rec = open_recognizer(host.asr)
    assert isinstance(rec, StopChecked)
    silence = np.zeros(16000, dtype=np.float32)
    rec.main.transcribe(silence)
    rec.check.transcribe(silence)  # both warmed up, as the worker does
    threshold = host.asr.stop_check.spotter_threshold or 1.0
    if rec.spotter is not None:
        rec.spotter.score(silence)
    files: list[dict[str, Any]] = []
    try:
        for name in CORPORA:
            corpus = load_corpus(REPO / "bench" / "data" / name)
            lines = [ln for ln in corpus.lines if ln.lang == "en"]
            if quick:
                lines = [ln for ln in lines if ln.split == "tune"][:3] + [
                    ln for ln in lines if ln.split == "held"
                ][:3]
            by_id = {ln.id: ln for ln in lines}
            manifest = build_audio(corpus, lines=lines)
            for f in (f for f in manifest.files if f.line_id in by_id):
                line = by_id[f.line_id]
                seg = _segment(f, manifest.folder, host.vad)
                audio = np.frombuffer(seg.pcm, dtype="<i2").astype(np.float32) / 32768.0
                t0 = time.perf_counter()
                main = rec.main.transcribe(audio).text
                t1 = time.perf_counter()
                due = rec.due(len(audio), main)
                alt = rec.in_alternatives(audio, main) if due else None
                t2 = time.perf_counter()
                second = rec.by_check(audio, main) if due else None
                t3 = time.perf_counter()
                spot = rec.spotter.score(audio) if due and rec.spotter is not None else None
                t4 = time.perf_counter()
                spotted = spot is not None and spot >= threshold
                both = heard_stop(main) or alt is not None or second is not None
                files.append(
                    {
                        "corpus": name,
                        "path": f.path,
                        "split": line.split,
                        "wants_stop": line.wants_stop,
                        "stop_word": line.stop_word,
                        "reference": line.reference,
                        "audio_s": round(len(audio) / 16000, 3),
                        "main": main,
                        "main_ms": round(1000 * (t1 - t0), 1),
                        "checked": due,
                        "alternatives_ms": round(1000 * (t2 - t1), 1) if due else None,
                        "check_ms": round(1000 * (t3 - t2), 1) if due else None,
                        "alternatives_stop": alt.text if alt is not None else None,
                        "check_stop": second.text if second is not None else None,
                        "stop_main": heard_stop(main),
                        "stop_with_check": heard_stop(main) or second is not None,
                        "stop_with_both": both,
                        "spotter_p": None if spot is None else round(spot, 6),
                        "spotter_ms": round(1000 * (t4 - t3), 1) if spot is not None else None,
                        "stop_with_all": both or spotted,
                    }
                )
            print(f"  {name}: {len(files)} files so far", flush=True)
    finally:
        rec.close()
    return {"files": files, "figures": figures(files)}


def figures(files: list[dict[str, Any]]) -> dict[str, Any]:
    """Per corpus and split, and over all corpora per split."""
    out: dict[str, Any] = {}
    groups: dict[str, list[dict[str, Any]]] = {}
    for f in files:
        groups.setdefault(f"{f['corpus']}/{f['split']}", []).append(f)
        groups.setdefault(f"all/{f['split']}", []).append(f)
    for key, fs in sorted(groups.items()):
        stops = [f for f in fs if f["wants_stop"]]
        clean = [f for f in fs if not f["stop_word"]]
        checked = [f for f in fs if f["checked"]]
        check_ms = [f["check_ms"] for f in checked]
        alternatives_ms = [f["alternatives_ms"] for f in checked]
        worker_ms = [_worker_ms(f) for f in checked]
        spotter_ms = [f["spotter_ms"] for f in checked if f.get("spotter_ms") is not None]
        out[key] = {
            "stop_files": len(stops),
            "recall_main": sum(f["stop_main"] for f in stops),
            "recall_with_check": sum(f["stop_with_check"] for f in stops),
            "recall_with_both": sum(f["stop_with_both"] for f in stops),
            "no_stop_word_files": len(clean),
            "false_stops_main": sum(f["stop_main"] for f in clean),
            "false_stops_with_check": sum(f["stop_with_check"] for f in clean),
            "false_stops_with_both": sum(f["stop_with_both"] for f in clean),
            "recall_with_all": sum(_all(f) for f in stops),
            "false_stops_with_all": sum(_all(f) for f in clean),
            "spotter_ms_p50": _q(spotter_ms, 0.5),
            "spotter_ms_p90": _q(spotter_ms, 0.9),
            "recovered_by_spotter": [
                f"{f['reference']} ({f['path'].split('__', 1)[1][:-4]}): {f['main']!r}"
                for f in stops
                if _all(f) and not f["stop_with_both"]
            ],
            "false_stops_by_spotter": [
                f"{f['reference']} ({f['path'].split('__', 1)[1][:-4]}): p={f['spotter_p']}"
                for f in clean
                if _all(f) and not f["stop_with_both"]
            ],
            "files": len(fs),
            "checked": len(checked),
            "check_ms_p50": _q(check_ms, 0.5),
            "check_ms_p90": _q(check_ms, 0.9),
            "alternatives_ms_p50": _q(alternatives_ms, 0.5),
            "alternatives_ms_p90": _q(alternatives_ms, 0.9),
            "worker_ms_p50": _q(worker_ms, 0.5),
            "worker_ms_p90": _q(worker_ms, 0.9),
            "main_ms_p50": statistics.median([f["main_ms"] for f in fs]) if fs else None,
            "added_false_stops": [
                f"{f['reference']} -> {f['alternatives_stop'] or f['check_stop']!r}"
                for f in clean
                if f["stop_with_both"] and not f["stop_main"]
            ],
            "still_missed": [
                f"{f['reference']} ({f['path'].split('__', 1)[1][:-4]}): {f['main']!r}"
                for f in stops
                if not f["stop_with_both"]
            ],
            "recovered_by_alternatives_only": [
                f"{f['reference']} ({f['path'].split('__', 1)[1][:-4]}): "
                f"{f['main']!r} -> {f['alternatives_stop']!r}"
                for f in stops
                if f["alternatives_stop"] and not f["stop_with_check"]
            ],
        }
    return out


def _all(f: dict[str, Any]) -> bool:
    """A STOP from any step, the spotter included (files saved before it: without)."""
    return bool(f.get("stop_with_all", f["stop_with_both"]))


def _q(values: list[float], q: float) -> float | None:
    xs = sorted(values)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else None


def _worker_ms(f: dict[str, Any]) -> float:
    """What the worker spends on a file asked about again: the hypotheses, and the check model
    only when they held no stop word."""
    check = 0.0 if f["alternatives_stop"] else f["check_ms"]
    return round(f["alternatives_ms"] + check, 1)


def _pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.1f} %)" if d else "-"


def markdown(result: dict[str, Any]) -> str:
    """The figures as the results page."""
    host = result["host"]
    rows = [
        "# STOP recall with the second opinion on short audio (`python -m bench.stopcheck`)",
        "",
        f"Run {result['started']}, {host['machine']}, {host['cpus']} CPUs, load "
        f"{host['loadavg_at_start']} before, {host['loadavg_at_end']} after, "
        f"{host['wall_s']} s. Settings: host.yaml's asr (`{result['settings']}`). Choose on "
        "`tune`, report `held`.",
        "",
        "| corpus / split | STOP recall, main alone | with the check model | with hypotheses "
        "and check | false STOPs, main alone | with the check model | with hypotheses and "
        "check | files asked again | ms p50 / p90: hypotheses, check model, the worker's |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    figs = result["figures"]
    for key, g in figs.items():
        rows.append(
            f"| {key} | {_pct(g['recall_main'], g['stop_files'])} | "
            f"{_pct(g['recall_with_check'], g['stop_files'])} | "
            f"{_pct(g['recall_with_both'], g['stop_files'])} | "
            f"{_pct(g['false_stops_main'], g['no_stop_word_files'])} | "
            f"{_pct(g['false_stops_with_check'], g['no_stop_word_files'])} | "
            f"{_pct(g['false_stops_with_both'], g['no_stop_word_files'])} | "
            f"{g['checked']} of {g['files']} | {g['alternatives_ms_p50']} / "
            f"{g['alternatives_ms_p90']}, {g['check_ms_p50']} / {g['check_ms_p90']}, "
            f"{g['worker_ms_p50']} / {g['worker_ms_p90']} |"
        )
    rows += [
        "",
        "With the stop-word spotter too (`spotter_threshold`: asked first in the worker; here "
        "scored on every file asked again, after the other steps, so its time is its own):",
        "",
        "| corpus / split | STOP recall, all steps | false STOPs, all steps "
        "| spotter ms p50 / p90 |",
        "| --- | --- | --- | --- |",
    ]
    for key, g in figs.items():
        rows.append(
            f"| {key} | {_pct(g['recall_with_all'], g['stop_files'])} | "
            f"{_pct(g['false_stops_with_all'], g['no_stop_word_files'])} | "
            f"{g['spotter_ms_p50']} / {g['spotter_ms_p90']} |"
        )
    for split in ("tune", "held"):
        g = figs.get(f"all/{split}")
        if not g:
            continue
        rows += ["", f"## {split}: stop lines only the spotter recovered", ""]
        rows += [f"- {x}" for x in g["recovered_by_spotter"]] or ["- none"]
        rows += ["", f"## {split}: STOPs only the spotter added on lines without a stop word", ""]
        rows += [f"- {x}" for x in g["false_stops_by_spotter"]] or ["- none"]
        rows += ["", f"## {split}: stop lines only the hypotheses recovered", ""]
        rows += [f"- {x}" for x in g["recovered_by_alternatives_only"]] or ["- none"]
        rows += ["", f"## {split}: STOPs the two steps added on lines without a stop word", ""]
        rows += [f"- {x}" for x in g["added_false_stops"]] or ["- none"]
        rows += ["", f"## {split}: stop lines still missed", ""]
        rows += [f"- {x}" for x in g["still_missed"]] or ["- none"]
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    ap = argparse.ArgumentParser(
        prog="python -m bench.stopcheck", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--quick", action="store_true", help="a few lines: the bench works")
    args = ap.parse_args(argv)
    from bench.understanding import HostSettings

    load0 = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    t0 = time.monotonic()
    result = run(args.quick)
    result.update(
        bench="stopcheck",
        started=started,
        quick=args.quick,
        settings=json.dumps(HostSettings().asr.model_dump(mode="json")["stop_check"]),
        host={
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "loadavg_at_start": [round(x, 2) for x in load0],
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
            "wall_s": round(time.monotonic() - t0, 1),
        },
    )
    name = "stopcheck_quick" if args.quick else "stopcheck"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
