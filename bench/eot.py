"""End-of-turn study (issue 13): how early can a turn be closed without cutting the user off?

    python -m bench.eot --text-only   # partial transcripts = the reference words (seconds)
    python -m bench.eot               # and partials recognised from the clean audio (minutes)
    python -m bench.eot --quick       # the recognised partials of a few lines only

The measure. A rule maps what has been said so far (a transcript) to a wait, ms: the turn is
closed once the silence after the last word lasts that long. Each corpus line is spoken in
stretches with a hesitation of ``pause_ms`` at each ``|`` (``bench/data/understanding.yaml``),
then the speaker is done. The rule **cuts the user off** when a hesitation lasts at least the
wait it asks after the words said before it (the turn closes mid-request and the rest becomes
another turn). Otherwise the turn closes ``wait(whole transcript)`` after the last word: the
**end-of-turn delay** the user waits on top of recognition and reply. Figures per split: lines
cut off (target 0), and the delay p50 / p90 / mean over the lines not cut off.

Rules, tuned on the tuning split (the cheapest setting that cuts nobody off there) and reported
on the held-back split:

- ``fixed``: one wait whatever was said; today that is the VAD hangover (host.yaml 400 ms);
- ``heuristic``: a transcript that trails off (ends with a comma, a conjunction, an article, a
  preposition, a filler; 然后, 还有, 嗯 ...) waits ``long``; a complete one (ends with the
  recogniser's terminal punctuation) waits ``short``; any other waits ``default``;
- ``heuristic+grammar``: the same, where the car's grammar reads the commands it understands
  first (:func:`text.turnend.command_reading`, what the VAD runs with
  ``end_of_turn.grammar``): a whole command is complete whatever its punctuation, a drive
  with no amount trails off.

A cut-off is **harmless** when the car still gets exactly the line's commands: the commands of
the words before the hesitation, then those of the reference words after it, are the whole
line's ("move forward one meter, | then beep"); every other cut-off counts as one.

Text-only partials carry the punctuation of the reference (none inside a line), so they show
what words alone tell; recognised partials carry Whisper's own punctuation, as a streaming
pipeline would see them when the silence starts. The end-of-turn model of
``livekit-local-inference`` is not compared: its model licence allows it only inside LiveKit
Agents (``docs/understanding.md``). Saved in ``bench/results/eot.json`` and ``eot.md``.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.understanding import RESULTS, HostSettings
from bench.understanding_audio import VOICES, AudioFile, build_audio
from bench.understanding_corpus import Corpus, Line, load_corpus
from text.commands import parse_command
from text.endofturn import EndOfTurn
from text.endofturn import classify as classify_words
from text.turnend import command_reading

__all__ = ["Case", "Rule", "classify", "evaluate", "fixed", "heuristic", "text_cases", "tune"]

Rule = Callable[[str, str], float]
FIXED_GRID = tuple(range(200, 2001, 50))
SHORT_GRID = (100, 150, 200, 250, 300, 400)
WAIT_GRID = tuple(range(300, 2001, 100))
MARK_GRID = tuple(range(400, 1001, 100))


@dataclass(frozen=True)
class Case:
    """One spoken line as an end-of-turn rule sees it."""

    line_id: str
    split: str
    lang: str
    condition: str
    """``text`` (reference words) or the voice whose clean audio was recognised."""
    partials: tuple[tuple[str, int], ...]
    """(transcript up to a hesitation, the hesitation's length in ms), in order."""
    final: str
    rests: tuple[str, ...] = ()
    """The reference words after each hesitation."""
    reference: str = ""


@functools.lru_cache(maxsize=8192)
def classify(text: str, lang: str, *, grammar: bool = False) -> str:
    """``trailing``, ``complete`` or ``open``: the pipeline's own rule (:mod:`text.endofturn`);
    with ``grammar``, the car's grammar reads the commands it understands first."""
    got = command_reading(text, lang) if grammar else None
    return got if got is not None else classify_words(text, lang)


def fixed(wait_ms: float) -> Rule:
    """The same wait whatever was said (the VAD hangover)."""
    return lambda text, lang: wait_ms


def heuristic(
    short_ms: float,
    default_ms: float,
    long_ms: float,
    *,
    grammar: bool = False,
    mark_ms: float | None = None,
) -> Rule:
    """Wait ``short_ms`` after a complete transcript, ``long_ms`` after a trailing one
    (``mark_ms`` after one trailing only by its last mark): the VAD's own rule."""
    rule = EndOfTurn(
        int(short_ms),
        int(default_ms),
        int(long_ms),
        reader=command_reading if grammar else None,
        mark_ms=None if mark_ms is None else int(mark_ms),
    )
    return rule.wait_ms


def evaluate(rule: Rule, cases: Sequence[Case]) -> dict[str, Any]:
    """Lines cut off, and the end-of-turn delay of the others."""
    cut, harmless, delays = [], [], []
    for c in cases:
        at = next((i for i, (t, pause) in enumerate(c.partials) if pause >= rule(t, c.lang)), -1)
        if at < 0:
            delays.append(rule(c.final, c.lang))
        elif _same_commands(c, at):
            harmless.append(f"{c.line_id}@{c.condition}")
        else:
            cut.append(f"{c.line_id}@{c.condition}")
    q = statistics.quantiles(delays, n=10, method="inclusive") if len(delays) > 1 else delays * 9
    return {
        "lines": len(cases),
        "with_pauses": sum(bool(c.partials) for c in cases),
        "cut_off": len(cut),
        "cut_off_lines": cut,
        "harmless_cut_off": len(harmless),
        "harmless_cut_off_lines": harmless,
        "long_waits": sum(d >= 1000 for d in delays) / len(delays) if delays else 0.0,
        "end_wait_ms": {
            "p50": round(float(statistics.median(delays)), 1) if delays else None,
            "p90": round(float(q[8]), 1) if delays else None,
            "mean": round(statistics.fmean(delays), 1) if delays else None,
        },
    }


def _same_commands(c: Case, at: int) -> bool:
    """Cut at hesitation ``at``: does the car still get exactly the line's commands?"""
    whole = parse_command(c.reference) if c.reference else None
    if not whole or at >= len(c.rests):
        return False
    before = parse_command(c.partials[at][0]) or []
    after = parse_command(c.rests[at]) or []
    return before + after == whole


def _cost(r: dict[str, Any]) -> tuple[float, float]:
    return (r["cut_off"], r["end_wait_ms"]["mean"] or 0.0)


def tune(cases: Sequence[Case]) -> dict[str, dict[str, Any]]:
    """The best setting of each rule on ``cases``: fewest cut-offs (harmless ones not counted),
    then the shortest mean wait."""
    best_fixed = min(FIXED_GRID, key=lambda w: (_cost(evaluate(fixed(w), cases)), w))
    out: dict[str, dict[str, Any]] = {"fixed": {"wait_ms": best_fixed}}
    for name, grammar in (("heuristic", False), ("heuristic+grammar", True)):
        grid = [
            (s, d, lg)
            for s, d, lg in itertools.product(SHORT_GRID, WAIT_GRID, WAIT_GRID)
            if s <= d <= lg
        ]
        s, d, lg = min(
            grid,
            key=lambda p: (_cost(evaluate(heuristic(*p, grammar=grammar), cases)), p[2], p[1]),
        )
        out[name] = {"short_ms": s, "default_ms": d, "long_ms": lg, "grammar": grammar}
    return out


def _rule(name: str, params: dict[str, Any]) -> Rule:
    if name == "fixed":
        return fixed(params["wait_ms"])
    return heuristic(
        params["short_ms"],
        params["default_ms"],
        params["long_ms"],
        grammar=params["grammar"],
        mark_ms=params.get("mark_ms"),
    )


def text_cases(lines: Sequence[Line]) -> list[Case]:
    """Cases whose partial transcripts are the reference words said so far."""
    out = []
    for line in lines:
        parts = [p.strip() for p in line.text.split("|")]
        partials = tuple((" ".join(parts[: i + 1]), line.pause_ms) for i in range(len(parts) - 1))
        out.append(
            Case(
                line.id, line.split, line.lang, "text", partials, line.reference,
                _rests(line.text), line.reference,
            )
        )  # fmt: skip
    return out


def _rests(text: str) -> tuple[str, ...]:
    """The reference words after each ``|`` hesitation of a corpus line."""
    parts = [p.strip() for p in text.split("|")]
    return tuple(" ".join(parts[i + 1 :]) for i in range(len(parts) - 1))


def asr_cases(
    files: Sequence[AudioFile],
    folder: Path,
    host: HostSettings,
    texts: dict[str, str] | None = None,
) -> list[Case]:
    """Cases whose transcripts are recognised from the audio up to each hesitation and whole
    (``texts``: each line's corpus text with its ``|`` marks, for the harmless cut-offs)."""
    texts = texts or {}
    import numpy as np

    from audio.wavio import read_wav
    from schemas.vad import VadSegment
    from workers.asr.backends import open_recognizer
    from workers.asr.recognise import recognise

    rate, out = 16000, []
    for lang in sorted({f.lang for f in files}):
        settings = host.asr_for(lang)
        rec = open_recognizer(settings)
        try:
            rec.transcribe(np.zeros(rate, dtype=np.float32))

            def heard(
                pcm: Any,
                a_s: float,
                b_s: float,
                seg: str,
                rec: Any = rec,
                overlap_ms: int = settings.overlap_ms,
            ) -> str:
                i = max(0, int((a_s - host.vad.pre_roll_ms / 1000) * rate))
                j = min(len(pcm), int((b_s + host.vad.post_roll_ms / 1000) * rate))
                cut = pcm[i:j].astype("<i2").tobytes()
                end_ns = len(cut) // 2 * 1_000_000_000 // rate
                vs = VadSegment(pcm=cut, segment_id=seg, start_ns=0, end_ns=end_ns)
                return recognise(rec, vs, overlap_ms).text

            for f in (f for f in files if f.lang == lang):
                pcm = read_wav(folder / f.path, rate)
                start = f.speech[0][0]
                pauses = [round((b[0] - a[1]) * 1000) for a, b in itertools.pairwise(f.speech)]
                partials = tuple(
                    (heard(pcm, start, f.speech[i][1], f.line_id), pauses[i])
                    for i in range(len(pauses))
                )
                final = heard(pcm, start, f.speech[-1][1], f.line_id)
                rests = _rests(texts[f.line_id]) if f.line_id in texts else ()
                out.append(
                    Case(f.line_id, f.split, f.lang, f.voice, partials, final, rests, f.reference)
                )
                print(f"  {f.line_id} {f.voice}: {[p for p, _ in partials]} -> {final!r}")
        finally:
            rec.close()
    return out


def study(cases: Sequence[Case]) -> dict[str, Any]:
    """Tune every rule on the tuning cases; score the tuned rules and today's on both splits."""
    host = HostSettings()
    tune_cases = [c for c in cases if c.split == "tune"]
    params = tune(tune_cases)
    eot = host.vad.end_of_turn
    if eot is None:
        params["today (host.yaml hangover)"] = {"wait_ms": float(host.vad.hangover_ms)}
    else:  # what the VAD runs: the words' waits (the hangover only when no transcript comes)
        params["today (host.yaml end_of_turn)"] = {
            "short_ms": eot.complete_ms, "default_ms": eot.open_ms, "long_ms": eot.trailing_ms,
            "grammar": eot.grammar, "mark_ms": eot.mark_ms,
        }  # fmt: skip
        params["before (the same waits, words only)"] = {
            **params["today (host.yaml end_of_turn)"], "grammar": False, "mark_ms": None,
        }  # fmt: skip
    out: dict[str, Any] = {"params": params, "held": {}, "tune": {}}
    for name, p in params.items():
        kind = "fixed" if "wait_ms" in p else "heuristic+grammar" if p["grammar"] else "heuristic"
        rule = _rule(kind, p)
        for split in ("held", "tune"):
            out[split][name] = evaluate(rule, [c for c in cases if c.split == split])
    if eot is not None:  # how host.yaml's mark_ms was chosen: today's waits, each mark wait
        today = params["today (host.yaml end_of_turn)"]
        out["mark_sweep_tune"] = {
            str(m): evaluate(_rule("heuristic", {**today, "mark_ms": m}), tune_cases)
            for m in MARK_GRID
        }
    return out


def markdown(results: dict[str, Any]) -> str:
    """The study as a short markdown page."""
    lines = ["# End-of-turn study (issue 13)", "", f"Load {results['host']}.", ""]
    for cond, r in results["studies"].items():
        lines += [
            f"## Partials: {cond}",
            "",
            "Tuned on the tuning split: " + "; ".join(f"{k} {v}" for k, v in r["params"].items()),
            "",
        ]
        for split in ("held", "tune"):
            lines += [
                f"### {'Held-back' if split == 'held' else 'Tuning'} split",
                "",
                "| rule | lines (with pauses) | cut off | cut off, same commands "
                "| end wait p50 / p90 / mean ms | waits >= 1 s |",
                "| --- | --- | --- | --- | --- | --- |",
            ]
            for name, e in r[split].items():
                w = e["end_wait_ms"]
                lines.append(
                    f"| {name} | {e['lines']} ({e['with_pauses']}) | {e['cut_off']} "
                    f"| {e['harmless_cut_off']} | {w['p50']} / {w['p90']} / {w['mean']} "
                    f"| {e['long_waits']:.0%} |"
                )
            lines.append("")
        sweep = r.get("mark_sweep_tune")
        if sweep:
            lines += [
                "### Today's waits with each `mark_ms` (tuning split)",
                "",
                "| mark_ms | cut off | cut off, same commands | end wait p50 / p90 / mean ms "
                "| waits >= 1 s |",
                "| --- | --- | --- | --- | --- |",
            ]
            for m, e in sweep.items():
                w = e["end_wait_ms"]
                lines.append(
                    f"| {m} | {e['cut_off']} | {e['harmless_cut_off']} "
                    f"| {w['p50']} / {w['p90']} / {w['mean']} | {e['long_waits']:.0%} |"
                )
            lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the study, print it and save ``bench/results/eot.json`` and ``eot.md``."""
    ap = argparse.ArgumentParser(prog="python -m bench.eot", description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--text-only", action="store_true", help="reference partials only")
    mode.add_argument("--quick", action="store_true", help="recognised partials of a few lines")
    ap.add_argument("--folder", type=Path, help="audio folder (default: the cache folder)")
    ap.add_argument("--out", type=Path, help="results JSON (the .md is written beside it)")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    load = [round(x, 2) for x in os.getloadavg()]
    corpus: Corpus = load_corpus()
    studies = {"text (reference words)": study(text_cases(corpus.lines))}
    if not args.text_only:
        lines = list(corpus.lines)
        if args.quick:
            pauses = [x for x in corpus.lines if x.pause_ms and x.lang == "en"]
            lines = pauses[:2] + [x for x in corpus.lines if not x.pause_ms][:2]
        voices = ("piper-ls0.85",) if args.quick else tuple(VOICES)
        made = build_audio(corpus, args.folder, lines=lines, voices=voices, noises=("clean",))
        ids = {x.id for x in lines}
        files = [
            f for f in made.files if f.noise == "clean" and f.voice in voices and f.line_id in ids
        ]
        studies["recognised (clean audio, host ASR)"] = study(
            asr_cases(files, made.folder, HostSettings(), {x.id: x.text for x in corpus.lines})
        )
    suffix = "_text" if args.text_only else "_quick" if args.quick else ""
    out = args.out or RESULTS / f"eot{suffix}.json"
    results = {
        "bench": "eot",
        "host": {
            "cpus": os.cpu_count(),
            "loadavg_at_start": load,
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "corpus_sha256": corpus.sha256,
        "studies": studies,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    text = markdown(results)
    out.with_suffix(".md").write_text(text, encoding="utf-8")
    print(text)
    print(f"saved {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
