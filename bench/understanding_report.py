"""The understanding bench's figures: outcomes grouped by split and condition, and as markdown.

:func:`report` groups the outcomes of ``bench.understanding_score`` per split (``held``: the
figures to report; ``tune``: the figures to tune on), and within a split: the text-only row,
every audio condition together, and per condition (voice/noise), voice, noise and language.
:func:`markdown` renders the held-back split first and lists what went wrong on the tuning
split only: the held-back lines are for reporting, not for reading failures off and tuning.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bench.understanding_score import Outcome, summarise

__all__ = ["markdown", "report"]

SPLITS = ("held", "tune")


def _by(outcomes: Sequence[Outcome], key: Callable[[Outcome], str]) -> dict[str, Any]:
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(key(o), []).append(o)
    return {k: summarise(v) for k, v in sorted(groups.items())}


def report(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """``{"held": {...}, "tune": {...}}``: summaries per split and grouping."""
    out: dict[str, Any] = {}
    for split in SPLITS:
        mine = [o for o in outcomes if o.split == split]
        text = [o for o in mine if o.condition == "text"]
        audio = [o for o in mine if o.condition != "text"]
        out[split] = {
            "text": summarise(text) if text else None,
            "audio": summarise(audio) if audio else None,
            "by_condition": _by(audio, lambda o: o.condition),
            "by_voice": _by(audio, lambda o: o.condition.split("/")[0]),
            "by_noise": _by(audio, lambda o: o.condition.split("/")[1]),
            "by_language": {
                "text": _by(text, lambda o: o.lang),
                "audio": _by(audio, lambda o: o.lang),
            },
        }
    return out


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f} %"


def _row(label: str, s: dict[str, Any] | None) -> str:
    if not s:
        return f"| {label} | 0 | | | | | |"
    err = " / ".join(
        f"{k.split('_')[0].upper()} {s[k]:.2f}" for k in ("wer_en", "cer_zh") if s[k] is not None
    )
    return (
        f"| {label} | {s['lines']} | {_pct(s['command_accuracy'])} ({s['command_lines']}) "
        f"| {s['false_commands']}/{s['no_command_lines']} "
        f"| {_pct(s['stop_recall'])} ({s['stop_lines']}) | {s['tolerated_stops']} | {err} |"
    )


_HEAD = [
    "| rows | lines | command accuracy (lines) | false commands | STOP recall (lines) "
    "| tolerated STOPs | WER / CER |",
    "| --- | --- | --- | --- | --- | --- | --- |",
]


def _table(r: dict[str, Any]) -> list[str]:
    rows = [*_HEAD, _row("text only (transcript = reference)", r["text"])]
    for lang, s in r["by_language"]["text"].items():
        rows.append(_row(f"text only, {lang}", s))
    if r["audio"]:
        rows.append(_row("**all audio**", r["audio"]))
        for lang, s in r["by_language"]["audio"].items():
            rows.append(_row(f"audio, {lang}", s))
        for group in ("by_voice", "by_noise", "by_condition"):
            rows += [_row(f"{group[3:]} {k}", s) for k, s in r[group].items()]
    return rows


def _failures(files: Sequence[dict[str, Any]]) -> list[str]:
    bad = [f for f in files if f["split"] == "tune" and not f["exact"]]
    out = [f"{len(bad)} judgements not exact:", ""]
    for f in bad:
        got = f["got"] or "nothing"
        out.append(
            f"- `{f['line_id']}` [{f['condition']}] heard {f['transcript']!r}: got {got}, "
            f"expected {f['expected'] or 'nothing'}" + (f" ({f['error']})" if f["error"] else "")
        )
    return out


def _paths(results: dict[str, Any]) -> list[str]:
    """How the lines were understood, per split (grammar, repair, the LLM's intents ...)."""
    paths = results.get("paths") or {}
    if not paths:
        return []
    rows = [
        f"- {key}: " + ", ".join(f"{p} {n}" for p, n in counts.items())
        for key, counts in paths.items()
    ]
    return ["How the lines were understood (`kind/source`; `ask->` the LLM's intents):", *rows, ""]


def markdown(results: dict[str, Any]) -> str:
    """The results as a short markdown page."""
    host, corpus = results["host"], results["corpus"]
    asr = results["asr"]
    lines = [
        "# Understanding bench (issue 13)",
        "",
        f"Mode {results['mode']}; corpus `{corpus['path']}` ({corpus['lines']} lines: "
        f"{corpus['tune']} tuning, {corpus['held']} held back; sha256 {corpus['sha256'][:12]}). "
        f"Dialog: {results['dialog']}. ASR: en whisper {asr['en']['whisper']['model']} "
        f"(language {asr['en']['language']}), zh whisper {asr['zh']['whisper']['model']} "
        f"(language {asr['zh']['language']}). Machine {host['machine']}, {host['cpus']} CPUs, "
        f"load {host['loadavg_at_start']} at start, {host['loadavg_at_end']} at the end, "
        f"{host['wall_s']} s.",
        "",
        *_paths(results),
        "Command accuracy: exactly the expected commands, on lines that want one. False commands:"
        " lines that want none, yet the car receives one (target 0). STOP recall: stop lines"
        " whose first command is STOP (target 100 %). Tolerated STOPs: a STOP on a stop-word line"
        " that did not ask for one (the stop rule fires on the word; not an error).",
        "",
        "## Held-back split (report these)",
        "",
        *_table(results["held"]),
        "",
        "## Tuning split (tune on these)",
        "",
        *_table(results["tune"]),
        "",
        *_failures(results["files"]),
    ]
    return "\n".join(lines) + "\n"
