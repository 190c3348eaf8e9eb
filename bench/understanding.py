"""Understanding bench (issue 13): does what was said become exactly the right car commands?

    python -m bench.understanding                # every line x voice x noise: ASR, then the dialog
    python -m bench.understanding --quick        # 6 lines, 2 voices, 2 noises: the bench works
    python -m bench.understanding --text-only    # transcript = reference text: the grammar alone
    python -m bench.understanding --transcripts bench/results/understanding.json  # re-score, no ASR
    python -m bench.understanding --text-only --no-llm    # without the LLM's intents

The corpus is ``bench/data/understanding.yaml`` (``bench.understanding_corpus``); its audio is
built into a cache folder by ``bench.understanding_audio`` when missing. Each file is cut as the
VAD would cut it from the true speech boundaries (``pre_roll_ms`` before, ``post_roll_ms`` after,
from ``configs/host.yaml``'s vad settings: this bench measures recognition and understanding,
not segmentation) and recognised by ``workers.asr.recognise.recognise`` with the ASR settings of
``configs/host.yaml`` (Whisper tiny.en, English). That model is English-only, so Chinese lines
are recognised with the same settings but Whisper base and ``language: zh`` (the configuration
``docs/asr.md`` gives for Chinese speakers); the results name both. The transcript then goes the
dialog's own path (``dialog_path``, awake): the wake phrase stripped as the dialog does, then
``workers.dialog.understanding.interpret`` (device question, grammar, near-miss repair, a lost
amount refused) and, for a command-like utterance the grammar does not parse, the LLM asked for
intents with the dialog's own ``intent_request`` and its answer judged by the dialog's own
``conclude``. The LLM is the LLM worker's engine in this process (``build_prompt`` +
``Generation``) with host.yaml's llm settings (SmolLM2 by llama.cpp), not a copy: only the bus
between them is left out. ``tools: false`` in host.yaml, so an ordinary question's answer
carries no command. What the car receives is judged by ``bench.understanding_score`` (the bounds
check of host.yaml's dialog settings, all or none). ``--no-llm`` scores the path without the
LLM (an intent request then counts as no command).

Every figure is given for the held-back split (report these) and, apart, for the tuning split
(tune on these), as a text-only row (transcript = reference: grammar errors alone) beside the
audio rows (per voice x noise, per voice, per noise): command accuracy, false commands on lines
that want none (target 0), STOP recall (target 100 %), tolerated STOPs, WER (English) and CER
(Chinese). Saved in ``bench/results/understanding.json`` (every transcript included, so another
grammar can be scored on the same ASR output) and ``understanding.md``; ``--quick`` and
``--text-only`` and ``--transcripts`` write ``understanding_quick.*``, ``understanding_text.*``
and ``understanding_rescored.*``.

(About 340 lines: the CLI, the dialog's path and the run loop share the corpus, the ASR and
LLM settings of one run.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from audio.wavio import read_wav
from bench.understanding_audio import (
    DEFAULT_NOISES,
    NOISES,
    QUICK_NOISES,
    QUICK_VOICES,
    VOICES,
    AudioFile,
    build_audio,
)
from bench.understanding_corpus import CORPUS_PATH, Corpus, Line, load_corpus, quick_lines
from bench.understanding_path import DialogPath, InProcessLlm
from bench.understanding_report import markdown, report
from bench.understanding_score import Outcome, judge, score
from schemas.vad import VadSegment
from supervision.config import load_config
from workers.asr.settings import AsrSettings
from workers.dialog.settings import DialogSettings
from workers.llm.settings import LlmSettings
from workers.vad.pipeline import VadSettings

__all__ = ["DialogPath", "HostSettings", "InProcessLlm", "main", "run_audio", "run_text"]

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
HOST_CONFIG = REPO / "configs" / "host.yaml"
RATE_HZ = 16000


class HostSettings:
    """The dialog, ASR and VAD settings of a supervisor config (``configs/host.yaml``)."""

    def __init__(self, path: Path = HOST_CONFIG) -> None:
        workers = load_config(path).workers
        self.path = path
        self.dialog = DialogSettings.model_validate(workers["dialog"].settings)
        self.asr = AsrSettings.model_validate(workers["asr"].settings)
        self.vad = VadSettings.model_validate(workers["vad"].settings)
        self.llm = LlmSettings.model_validate(workers["llm"].settings)

    def asr_for(self, lang: str) -> AsrSettings:
        """The ASR settings for ``lang``: the config's, or Whisper base for Chinese when the
        config's model is English-only (then without the config's stop check, whose model is
        base too: the settings refuse a check by the main model)."""
        if lang == "zh" and (self.asr.whisper.model == "tiny.en" or self.asr.language == "en"):
            whisper = self.asr.whisper.model_dump() | {"model": "base"}
            update = {"language": "zh", "whisper": whisper, "stop_check": None}
            return AsrSettings.model_validate(self.asr.model_dump() | update)
        return self.asr


def run_text(understand: DialogPath, corpus: Corpus, host: HostSettings) -> list[Outcome]:
    """Every line with its reference text as the transcript."""
    return score(understand, corpus.lines, bounds=host.dialog.bounds)


def _segment(f: AudioFile, folder: Path, vad: VadSettings) -> VadSegment:
    pcm = read_wav(folder / f.path, RATE_HZ)
    start = max(0, int((f.speech[0][0] * 1000 - vad.pre_roll_ms) * RATE_HZ / 1000))
    end = min(len(pcm), int((f.speech[-1][1] * 1000 + vad.post_roll_ms) * RATE_HZ / 1000))
    cut = pcm[start:end].astype("<i2")
    return VadSegment(
        pcm=cut.tobytes(),
        segment_id=f.line_id,
        start_ns=0,
        end_ns=len(cut) * 1_000_000_000 // RATE_HZ,
    )


def transcribe(
    files: Sequence[AudioFile], folder: Path, host: HostSettings, progress: bool = True
) -> dict[str, dict[str, Any]]:
    """``{file path: {text, language, infer_ms, backend}}`` from the host ASR, one model per
    language, loaded once and warmed up with one second of silence (as the worker does)."""
    from workers.asr.backends import open_recognizer
    from workers.asr.recognise import recognise

    out: dict[str, dict[str, Any]] = {}
    for lang in sorted({f.lang for f in files}):
        settings = host.asr_for(lang)
        recognizer = open_recognizer(settings)
        try:
            recognizer.transcribe(np.zeros(RATE_HZ, dtype=np.float32))
            mine = [f for f in files if f.lang == lang]
            for i, f in enumerate(mine):
                res = recognise(recognizer, _segment(f, folder, host.vad), settings.overlap_ms)
                out[f.path] = {
                    "text": res.text,
                    "language": res.language,
                    "infer_ms": round(res.infer_ms, 1),
                    "backend": res.backend,
                }
                if progress and (i % 25 == 0 or i == len(mine) - 1):
                    print(f"  asr {lang} {i + 1}/{len(mine)} {f.path}: {res.text!r}")
        finally:
            recognizer.close()
    return out


def run_audio(
    understand: DialogPath,
    corpus: Corpus,
    files: Sequence[AudioFile],
    transcripts: dict[str, dict[str, Any]],
    host: HostSettings,
) -> list[Outcome]:
    """Judge each file's transcript (its recognised language, else the line's)."""
    out = []
    for f in files:
        line: Line = corpus.by_id[f.line_id]
        t = transcripts[f.path]
        lang = t["language"] if t["language"] in ("en", "zh") else line.lang
        out.append(
            judge(
                line,
                t["text"],
                understand(t["text"], lang),
                host.dialog.bounds,
                condition=f.condition,
            )
        )
    return out


def _host_info() -> dict[str, Any]:
    return {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _saved_transcripts(path: Path, corpus: Corpus) -> dict[str, dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("corpus", {}).get("sha256") != corpus.sha256:
        raise SystemExit(
            f"{path} was measured on another version of the corpus; run the bench again "
            "(python -m bench.understanding) instead of re-scoring it."
        )
    return {f["file"]: f["asr"] for f in data["files"] if f.get("file")}


def _mode(args: argparse.Namespace) -> str:
    if args.quick:
        return "quick"
    if args.text_only:
        return "text-only"
    return "rescored" if args.transcripts else "full"


def _audio(
    args: argparse.Namespace, corpus: Corpus, host: HostSettings
) -> tuple[list[AudioFile], dict[str, dict[str, Any]]]:
    """The files of this run and their transcripts (saved ones, or recognised now)."""
    if args.transcripts:
        return _files_of(args.transcripts), _saved_transcripts(args.transcripts, corpus)
    lines = quick_lines(corpus) if args.quick else list(corpus.lines)
    voices = QUICK_VOICES if args.quick else tuple(args.voices or VOICES)
    noises = QUICK_NOISES if args.quick else tuple(args.noises or DEFAULT_NOISES)
    print("building the audio (cached) ...")
    ids = {x.id for x in lines}
    made = build_audio(corpus, args.folder, lines=lines, voices=voices, noises=noises)
    files = [f for f in made.files if f.voice in voices and f.noise in noises and f.line_id in ids]
    print(f"recognising {len(files)} files ...")
    return files, transcribe(files, made.folder, host)


def main(argv: list[str] | None = None) -> int:
    """Run the bench, print the held-back table and save the results."""
    ap = argparse.ArgumentParser(
        prog="python -m bench.understanding", description=__doc__.splitlines()[0]
    )
    modes = ap.add_mutually_exclusive_group()
    modes.add_argument("--quick", action="store_true", help="a few lines and conditions")
    modes.add_argument("--text-only", action="store_true", help="transcript = reference text")
    modes.add_argument(
        "--transcripts", type=Path, help="re-score the transcripts of a results file"
    )
    ap.add_argument("--voices", nargs="+", choices=sorted(VOICES), help="default: all")
    ap.add_argument(
        "--noises", nargs="+", choices=sorted(NOISES), help="default: clean pink10 babble10"
    )
    ap.add_argument(
        "--corpus", type=Path, default=CORPUS_PATH, help="the corpus (default: %(default)s)"
    )
    ap.add_argument("--config", type=Path, default=HOST_CONFIG, help="supervisor config")
    ap.add_argument("--folder", type=Path, help="audio folder (default: the cache folder)")
    ap.add_argument("--out", type=Path, help="results JSON (the .md is written beside it)")
    ap.add_argument(
        "--no-llm", action="store_true", help="without the LLM's intents (grammar and repair)"
    )
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    host_info = _host_info()
    corpus = load_corpus(args.corpus.resolve())
    host = HostSettings(args.config)
    llm = None if args.no_llm else InProcessLlm(host.llm)
    understand = DialogPath(host.dialog, llm)
    mode = _mode(args)
    suffix = {"quick": "_quick", "text-only": "_text", "rescored": "_rescored", "full": ""}[mode]
    suffix += "_nollm" if args.no_llm else ""
    stem = "understanding" if corpus.path == CORPUS_PATH else corpus.path.stem
    out = args.out or RESULTS / f"{stem}{suffix}.json"
    outcomes = run_text(understand, corpus, host)
    if args.quick:
        outcomes = [o for o in outcomes if o.line_id in {x.id for x in quick_lines(corpus)}]
    files: list[AudioFile] = []
    transcripts: dict[str, dict[str, Any]] = {}
    if not args.text_only:
        files, transcripts = _audio(args, corpus, host)
        outcomes += run_audio(understand, corpus, files, transcripts, host)
    if llm is not None:
        llm.close()
    results = {
        "bench": "understanding",
        "mode": mode,
        "host": {
            **host_info,
            "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
            "wall_s": round(time.monotonic() - started, 1),
        },
        "corpus": {
            "path": str(corpus.path.relative_to(REPO)),
            "sha256": corpus.sha256,
            "lines": len(corpus.lines),
            "tune": len(corpus.split("tune")),
            "held": len(corpus.split("held")),
        },
        "config": _relative(args.config),
        "asr": {lang: host.asr_for(lang).model_dump(mode="json") for lang in ("en", "zh")},
        "dialog": (
            "the dialog's path (workers.dialog.understanding: grammar, repair, "
            + ("no LLM" if llm is None else f"the LLM's intents by {host.llm.backend}")
            + "), awake"
        ),
        "paths": _paths(outcomes, understand),
        "llm_calls": 0 if llm is None else llm.calls,
        **report(outcomes),
        "files": _records(outcomes, files, transcripts),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    text = markdown(results)
    out.with_suffix(".md").write_text(text, encoding="utf-8")
    print(text.split("\n## Tuning")[0])
    print(f"saved {out} and {out.with_suffix('.md')}")
    return 0


def _paths(outcomes: Sequence[Outcome], understand: DialogPath) -> dict[str, dict[str, int]]:
    """How the lines were understood (grammar, repair, the LLM's intents ...), per split and
    text/audio: ``{"held/text": {"commands/grammar": 20, "ask->refuse": 1, ...}, ...}``."""
    out: dict[str, dict[str, int]] = {}
    for o in outcomes:
        key = f"{o.split}/{'text' if o.condition == 'text' else 'audio'}"
        path = understand.path_of.get(o.transcript, "?")
        out.setdefault(key, {})[path] = out.get(key, {}).get(path, 0) + 1
    return {k: dict(sorted(v.items())) for k, v in sorted(out.items())}


def _relative(path: Path) -> str:
    p = Path(path).resolve()
    return str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(p)


def _files_of(path: Path) -> list[AudioFile]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [
        AudioFile(**{**f["audio"], "speech": [tuple(s) for s in f["audio"]["speech"]]})
        for f in data["files"]
        if f.get("file")
    ]


def _records(
    outcomes: Sequence[Outcome], files: Sequence[AudioFile], transcripts: dict[str, Any]
) -> list[dict[str, Any]]:
    by_key: dict[tuple[str, str], AudioFile] = {(f.line_id, f.condition): f for f in files}
    out = []
    for o in outcomes:
        rec: dict[str, Any] = asdict(o)
        f = by_key.get((o.line_id, o.condition))
        if f is not None:
            rec.update(file=f.path, asr=transcripts[f.path], audio=asdict(f))
        out.append(rec)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
