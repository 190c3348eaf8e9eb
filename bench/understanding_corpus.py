"""The understanding corpus: user lines with the exact car commands they must produce.

    corpus = load_corpus()                     # bench/data/understanding.yaml, checked
    held = corpus.split("held")                # report on these; tune on corpus.split("tune")
    expected_commands(line, Bounds())          # what the car must receive, in order

The data file's header explains every field and the labelling conventions. A line's ``intents``
are what the user asks of the car; what the car receives is those intents after the dialog's
bounds check (``workers.dialog.actions.check_intent``, all or none), as canonical command dicts:
the :class:`schemas.rtos.RtosCommand` fields other than those the sender fills in (id, time to
live, audit source), defaults left out. Every problem with the file is reported at once, with
the line id, as a :class:`CorpusError`.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from schemas.rtos import CarIntent
from text.intents import ToolArguments
from workers.dialog.actions import Bounds, check_intent, to_commands

__all__ = [
    "CATEGORIES",
    "CORPUS_PATH",
    "Corpus",
    "CorpusError",
    "Line",
    "canonical",
    "car_commands",
    "contains_stop_word",
    "expected_commands",
    "load_corpus",
    "quick_lines",
    "split_problems",
]

CORPUS_PATH = Path(__file__).resolve().parent / "data" / "understanding.yaml"
CATEGORIES = ("command", "refusal", "stop", "question", "chat", "near_miss")
LANGUAGES = ("en", "zh")
SPLITS = ("tune", "held")
#: Fields of RtosCommand that the sender fills in; they are not part of what was understood.
SENDER_FIELDS = frozenset({"cmd_id", "ttl_ms", "source"})
_KEYS = {"id", "lang", "category", "split", "text", "intents", "stop_word"}
_OPTIONAL = {"pause_ms", "source", "say", "note"}
_PAUSE = "|"


class CorpusError(ValueError):
    """The corpus file is missing or a line is malformed; the message names every problem."""


@dataclass(frozen=True)
class Line:
    """One user line and its labels."""

    id: str
    lang: str
    category: str
    split: str
    text: str
    """The words as said, ``|`` where the speaker pauses for ``pause_ms``."""
    intents: tuple[Mapping[str, Any], ...]
    """What the user asks of the car, in order (RtosCommand fields, in their units)."""
    stop_word: bool
    """The text holds a stop form (a STOP is acceptable here even when not asked for)."""
    pause_ms: int = 0
    """Silence at each ``|``, ms."""
    source: str = ""
    say: str = ""
    """What the TTS is given when it differs from ``text`` (same ``|`` marks)."""
    note: str = ""

    @property
    def reference(self) -> str:
        """The reference transcript: the text without pause marks."""
        return " ".join(self.text.replace(_PAUSE, " ").split())

    @property
    def parts(self) -> list[str]:
        """What the TTS speaks, one string per stretch of speech between pauses."""
        return [p.strip() for p in (self.say or self.text).split(_PAUSE)]

    @property
    def wants_stop(self) -> bool:
        """The user wants the car stopped now (STOP recall is counted on these lines)."""
        return self.category == "stop"


@dataclass(frozen=True)
class Corpus:
    """Every line of the corpus file, with the file's stop forms and digest."""

    lines: tuple[Line, ...]
    stop_words: Mapping[str, tuple[str, ...]]
    sha256: str
    """Digest of the file's bytes (audio caches and results name the corpus by it)."""
    path: Path = CORPUS_PATH
    by_id: Mapping[str, Line] = field(default_factory=dict, compare=False, repr=False)

    def split(self, name: str) -> list[Line]:
        """The lines of one split (``tune`` or ``held``), in file order."""
        return [line for line in self.lines if line.split == name]


def canonical(cmd: CarIntent) -> dict[str, Any]:
    """A command as understood: its fields without the sender's, defaults left out."""
    return cmd.model_dump(exclude=set(SENDER_FIELDS), exclude_defaults=True)


def car_commands(
    intents: Iterable[Mapping[str, Any]], bounds: Bounds
) -> tuple[list[dict[str, Any]], str]:
    """``(commands the car receives, refusal)``: the dialog's check, all or none."""
    checked = [check_intent(CarIntent.model_validate(dict(i)), bounds) for i in intents]
    refused = next((c.refusal for c in checked if c.intent is None), None)
    if refused is not None:
        return [], refused
    ok = [c.intent for c in checked if c.intent is not None]
    return [canonical(c) for c in to_commands(ok, bounds, first_id=1, source="bench")], ""


def expected_commands(line: Line, bounds: Bounds) -> list[dict[str, Any]]:
    """What the car must receive for ``line`` (nothing for a refusal line)."""
    return car_commands(line.intents, bounds)[0]


def _stop_pattern(form: str) -> re.Pattern[str]:
    words = r"\s+".join(re.escape(w) for w in form.split())
    return re.compile(rf"(?<![\w']){words}(?![\w'])")


def contains_stop_word(text: str, lang: str, stop_words: Mapping[str, Sequence[str]]) -> bool:
    """True when ``text`` holds a stop form: English as whole words, Chinese as characters."""
    t = text.lower().replace("\u2019", "'")
    if lang == "zh":
        return any(form in t for form in stop_words.get("zh", ()))
    return any(_stop_pattern(form.lower()).search(t) for form in stop_words.get("en", ()))


def _line(raw: Any, where: str, problems: list[str]) -> Line | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: a line must be a mapping with {sorted(_KEYS)}.")
        return None
    missing, unknown = _KEYS - set(raw), set(raw) - _KEYS - _OPTIONAL
    if missing or unknown:
        problems.append(
            f"{where}: missing keys {sorted(missing)}, unknown keys {sorted(unknown)}; "
            f"a line has {sorted(_KEYS)} and optionally {sorted(_OPTIONAL)}."
        )
        return None
    for key, allowed in (("lang", LANGUAGES), ("category", CATEGORIES), ("split", SPLITS)):
        if raw[key] not in allowed:
            problems.append(f"{where}: {key} is {raw[key]!r}; use one of {list(allowed)}.")
    intents = raw["intents"] if isinstance(raw["intents"], list) else None
    if intents is None:
        problems.append(f"{where}: intents must be a list (empty for no command).")
        intents = []
    for i, intent in enumerate(intents):
        try:
            ToolArguments.model_validate(intent)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            problems.append(
                f"{where}: intent {i + 1} is not an RtosCommand ({loc}: {first['msg']})."
            )
    text = str(raw["text"])
    pause_ms = int(raw.get("pause_ms", 0))
    if (_PAUSE in text) != (pause_ms > 0):
        problems.append(f"{where}: a text with '|' needs pause_ms > 0, and only such a text.")
    say = str(raw.get("say", ""))
    if say and say.count(_PAUSE) != text.count(_PAUSE):
        problems.append(f"{where}: say must have the same '|' pause marks as text.")
    return Line(
        id=str(raw["id"]),
        lang=str(raw["lang"]),
        category=str(raw["category"]),
        split=str(raw["split"]),
        text=text,
        intents=tuple(dict(i) for i in intents if isinstance(i, dict)),
        stop_word=bool(raw["stop_word"]),
        pause_ms=pause_ms,
        source=str(raw.get("source", "")),
        say=say,
        note=str(raw.get("note", "")),
    )


def _label_problems(line: Line, stop_words: Mapping[str, Sequence[str]]) -> list[str]:
    out = []
    found = contains_stop_word(line.reference, line.lang, stop_words)
    if found != line.stop_word:
        out.append(f"{line.id}: stop_word is {line.stop_word} but the text says {found}.")
    commands, refusal = car_commands(line.intents, Bounds())
    if line.category == "refusal" and (not line.intents or not refusal):
        out.append(f"{line.id}: a refusal line needs intents that the bounds refuse.")
    if line.category in ("command", "stop") and not commands:
        out.append(f"{line.id}: a {line.category} line needs intents within the bounds.")
    if line.category not in ("command", "stop", "refusal") and line.intents:
        out.append(f"{line.id}: a {line.category} line asks for no command; intents must be [].")
    if line.wants_stop and (not line.stop_word or line.intents[0].get("kind") not in _STOPS):
        out.append(f"{line.id}: a stop line starts with stop or estop and holds a stop word.")
    if line.split == "held" and line.source == "issue":
        out.append(f"{line.id}: the issue's own phrasings belong to the tuning split.")
    return out


_STOPS = ("stop", "estop")


def load_corpus(path: Path = CORPUS_PATH) -> Corpus:
    """Read and check the corpus file; raise :class:`CorpusError` listing every problem."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CorpusError(f"Cannot read the corpus {path}: {exc.strerror}.") from exc
    try:
        doc = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise CorpusError(f"The corpus {path} is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("lines"), list):
        raise CorpusError(f"The corpus {path} must be a mapping with 'stop_words' and 'lines'.")
    stop_words = {k: tuple(str(w) for w in v) for k, v in (doc.get("stop_words") or {}).items()}
    problems: list[str] = []
    lines = [_line(raw, f"line {i + 1}", problems) for i, raw in enumerate(doc["lines"])]
    good = [line for line in lines if line is not None]
    dup = [k for k, n in Counter(line.id for line in good).items() if n > 1]
    if dup:
        problems.append(f"duplicate line ids {sorted(dup)}; every id must be unique.")
    if not problems:
        for line in good:
            problems += _label_problems(line, stop_words)
    if problems:
        raise CorpusError(f"The corpus {path} has problems:\n- " + "\n- ".join(problems))
    return Corpus(
        lines=tuple(good),
        stop_words=stop_words,
        sha256=hashlib.sha256(data).hexdigest(),
        path=Path(path),
        by_id={line.id: line for line in good},
    )


def quick_lines(corpus: Corpus) -> list[Line]:
    """The few lines of a ``--quick`` check: per language, the first held command, stop and
    near-miss line."""
    out = []
    for lang in LANGUAGES:
        for cat in ("command", "stop", "near_miss"):
            out += [x for x in corpus.split("held") if x.lang == lang and x.category == cat][:1]
    return out


def _norm(text: str) -> str:
    return re.sub(r"[^\w]+", " ", text.lower()).strip()


def split_problems(corpus: Corpus, *, min_held: float = 0.25, max_held: float = 0.45) -> list[str]:
    """What is wrong with the split: a stratum (language x category) of three or more lines
    without both parts, a held share outside ``[min_held, max_held]`` overall or per language,
    or a held line whose words also appear as a tuning line."""
    out = []
    strata: dict[tuple[str, str], Counter[str]] = {}
    for line in corpus.lines:
        strata.setdefault((line.lang, line.category), Counter())[line.split] += 1
    for (lang, cat), n in sorted(strata.items()):
        if sum(n.values()) >= 3 and (not n["tune"] or not n["held"]):
            out.append(f"stratum {lang}/{cat} ({dict(n)}) needs lines in both splits.")
    for group in ("all", *LANGUAGES):
        lines = [x for x in corpus.lines if group in ("all", x.lang)]
        share = sum(x.split == "held" for x in lines) / max(1, len(lines))
        if not min_held <= share <= max_held:
            out.append(f"held share {share:.2f} ({group}) is outside the allowed range.")
    tune = {_norm(x.reference) for x in corpus.split("tune")}
    out += [f"{x.id} also appears in the tuning split." for x in corpus.split("held")
            if _norm(x.reference) in tune]  # fmt: skip
    return out
