"""Train the stop-word spotter's head (``workers/asr/spotter_head.npz``) and score its threshold.

    python -m bench.spotter_train            # 842 s beside make test on two cores; writes the head
    python -m bench.spotter_train --no-save  # the tuning table only

Data, none of it a held-back corpus line (any phrase equal to one, or holding a held-back line
of two words or more, is dropped):

- positives: phrases of our own that end a first part with "stop", "halt" or "freeze"
  (:data:`BEFORE` + word, then an optional :data:`AFTER` part spoken on its own after a short
  gap, so the word's end is known); negatives: ``bench/data/spotter_negatives.txt`` and
  ``bench.corpus.SENTENCES``;
- voices: the packaged piper voice (seeded, as ``bench.understanding_voices``) at four speeds
  that are not the corpus's (0.8, 0.95, 1.1, 1.35) and espeak-ng in five voices and speeds;
  conditions: clean, pink 5 / 10 dB, white 15 dB, babble 10 / 15 dB (the corpus's babble tracks);
- the understanding corpora's tuning split (main ``tune``, blind and blind2 tuning lines, cut as
  the VAD cuts them): every position of a line without a stop word is a negative, and the
  best-scoring position of each stop line a positive (a second pass, after a first model).

A position counts as a positive when the audio it has heard ends from 0.04 s before to 0.32 s
after the stop word; positions ending more than 0.55 s before it are negatives, the rest unused.
The head (:func:`workers.asr.spotter.head_probabilities`) is trained with Adam on a weighted
cross-entropy. The threshold is read from two folds of the tuning lines (each scored by the
model trained without it): the table printed gives, per threshold, the tuning stop files that
host.yaml's other steps miss and the spotter recovers, and the STOPs it adds on tuning files
without a stop word. The held-back split is scored by ``python -m bench.stopcheck``, not here.

The head committed was trained by a probe of this recipe on 2026-12-05. The synthetic speech is
deterministic (seeded piper in two sessions, as the probe ran it, and espeak-ng). A rerun of
this script on the same packages wrote the same head to the bit (2026-12-05 00:53, run log).
It took 842 s beside `make test` on the two cores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
NEGATIVES = REPO / "bench" / "data" / "spotter_negatives.txt"
CORPORA = ("understanding", "understanding_blind", "understanding_blind2")
WORDS = ("stop", "halt", "freeze")
BEFORE = (
    "",
    "okay",
    "hey",
    "please",
    "now",
    "robot",
    "car",
    "hey car",
    "wait",
    "whoa",
    "no",
    "I said",
    "just",
    "you need to",
    "come on",
    "everybody",
    "alright",
    "okay robot",
    "all right then",
    "oh no",
    "careful",
    "listen",
    "hey you",
)
AFTER = (
    "",
    "now",
    "please",
    "right now",
    "the car",
    "at once",
    "there",
    "it",
    "here",
    "moving",
    "for a second",
    "okay",
    "the robot",
    "straight away",
    "thank you",
    "don't go",
    "I mean it",
    "before you hit it",
)
PIPER_SPEEDS = (0.8, 0.95, 1.1, 1.35)
ESPEAK = (("en-us", 140), ("en-us", 190), ("en-us+m3", 165), ("en-gb", 165), ("en-us+f2", 175))
CONDITIONS = (
    ("clean", None),
    ("pink", 10.0),
    ("babble", 10.0),
    ("white", 15.0),
    ("pink", 5.0),
    ("babble", 15.0),
)
HIDDEN = 48
EPOCHS = 12
THRESHOLDS = (0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999)


def norm(text: str) -> str:
    """Lower-case words only, for comparing phrases with corpus lines."""
    return " ".join(re.findall(r"[a-z']+", text.lower()))


def held_lines() -> list[str]:
    """Every held-back line of the three corpora (their parts joined)."""
    import yaml

    out: list[str] = []
    for name in CORPORA:
        doc = yaml.safe_load((REPO / "bench" / "data" / f"{name}.yaml").read_text())
        out += [ln["text"].replace("|", " ") for ln in doc["lines"] if ln.get("split") == "held"]
    return out


def positives(held: list[str], n: int = 260) -> list[tuple[str, str, str]]:
    """(word, first part ending with it, part after it)."""
    held_n = {norm(h) for h in held}
    multi = [h for h in held_n if " " in h]

    def allowed(full: str) -> bool:
        return full not in held_n and not any(m in full for m in multi)

    combos = list(itertools.product(WORDS, BEFORE, AFTER))
    random.Random(1).shuffle(combos)
    out = []
    for w, b, a in combos:
        head = f"{b} {w}".strip()
        if allowed(norm(f"{head} {a}")):
            out.append((w, head, a))
        if len(out) >= n:
            break
    for w, a in itertools.product(WORDS, AFTER):
        if allowed(norm(f"{w} {a}")) and (w, w, a) not in out:
            out.append((w, w, a))
    return out


def negatives(held: list[str]) -> tuple[list[str], list[str]]:
    """The written negatives and the ones taken from the docs (plus the bench sentences)."""
    from bench.corpus import SENTENCES

    held_n = {norm(h) for h in held}
    written: list[str] = []
    docs: list[str] = []
    part = 0
    for line in NEGATIVES.read_text(encoding="utf-8").splitlines():
        if line.startswith("# ---"):
            part = 1
        elif line.strip() and not line.startswith("#") and norm(line) not in held_n:
            (written if part == 0 else docs).append(line.strip())
    docs += [ref for ref, _ in SENTENCES["en"] if norm(ref) not in held_n]
    return written, docs


class Speech:
    """The training voices, each speaking a stretch of text trimmed to its speech at 16 kHz."""

    def __init__(self, folder: Path) -> None:
        from bench.understanding_voices import VOICES, Speakers, babble
        from workers.tts.backends import Espeak

        self.speakers = Speakers(folder)
        self.fresh_piper()
        self.espeak = {v: Espeak(voice_en=v[0], speed_wpm=v[1]) for v in ESPEAK}
        self.voices: list[tuple[str, Any]] = [("piper", s) for s in PIPER_SPEEDS]
        self.voices += [("espeak", v) for v in ESPEAK]
        self.babble = [
            babble(self.speakers, VOICES[v], "en")
            for v in ("piper-ls0.85", "piper-ls1.2", "espeak-165")
        ]

    def fresh_piper(self) -> None:
        """A new piper session: its seeded noise starts again from the seed."""
        from piper import PiperVoice

        model, config = self.speakers._seeded_piper()
        self.piper = PiperVoice.load(str(model), config_path=str(config))

    def say(self, voice: tuple[str, Any], text: str) -> np.ndarray:
        from piper.config import SynthesisConfig

        from audio.resample import resample
        from bench.understanding_voices import _trim

        engine, arg = voice
        if engine == "piper":
            cfg = SynthesisConfig(length_scale=arg)
            raw = np.concatenate([c.audio_int16_array for c in self.piper.synthesize(text, cfg)])
            rate = int(self.piper.config.sample_rate)
        else:
            raw, rate = self.espeak[arg].synthesize(text, "en")
        return _trim(resample(raw.astype(np.float64) / 32768.0, rate, 16000))


def synthesise(
    speech: Speech,
    spotter: Any,
    items: list[tuple[str, str, str]],
    voices_per: int,
    conditions_per: int,
    seed_base: int = 0,
) -> list[tuple[np.ndarray, str, float]]:
    """(embeddings, word or "", time the word ends, s) of every clip of ``items``."""
    from bench.understanding_voices import Noise, make_noise

    out = []
    for k, (word, head, tail) in enumerate(items, start=seed_base):
        if voices_per >= len(speech.voices):
            chosen = list(range(len(speech.voices)))
        else:
            chosen = list(np.random.default_rng(k).choice(len(speech.voices), voices_per, False))
        for vi in chosen:
            voice = speech.voices[vi]
            first = speech.say(voice, head)
            rng = np.random.default_rng(zlib.crc32(f"{k}-{vi}".encode()))
            parts = [first]
            if tail:
                parts += [np.zeros(int(rng.uniform(0.02, 0.2) * 16000)), speech.say(voice, tail)]
            x = np.concatenate(parts)
            x = x / np.sqrt(np.mean(x**2)) * 10 ** (-23 / 20)
            lead = np.zeros(int(rng.uniform(0.1, 0.4) * 16000))
            clean = np.concatenate([lead, x, np.zeros(int(rng.uniform(0.1, 0.4) * 16000))])
            word_end = (len(lead) + len(first)) / 16000 if word else -1.0
            power = np.mean(x**2)
            for ci in rng.choice(len(CONDITIONS), size=conditions_per, replace=False):
                kind, snr = CONDITIONS[ci]
                y = clean
                if snr is not None:
                    track = speech.babble[int(rng.integers(3))] if kind == "babble" else None
                    noise = make_noise(Noise(kind, kind, snr), len(clean), rng, track)
                    y = clean + np.sqrt(power / 10 ** (snr / 10)) * noise
                emb = spotter.embed(np.clip(y, -1, 1)).astype(np.float16)
                out.append((emb, word, word_end))
    return out


def ends(n: int) -> np.ndarray:
    """The time (s from the audio start) at which each of ``n`` embeddings' sound ends."""
    from workers.asr.spotter import HOP, LEAD_S, RATE_HZ, STRIDE, WINDOW

    return np.asarray(((np.arange(n) * STRIDE + WINDOW) * HOP) / RATE_HZ - LEAD_S)


def labelled(clips: list[tuple[np.ndarray, str, float]]) -> tuple[np.ndarray, np.ndarray]:
    """The contexts of every clip with their labels (positions near a word's end unused)."""
    from workers.asr.spotter import CONTEXT, contexts

    xs, ys = [], []
    for emb, word, word_end in clips:
        x = contexts(emb)
        t = ends(max(len(emb), CONTEXT))[np.arange(CONTEXT - 1, max(len(emb), CONTEXT))]
        if word:
            pos, neg = (t >= word_end - 0.04) & (t <= word_end + 0.32), t < word_end - 0.55
            xs += [x[pos], x[neg]]
            ys += [np.ones(int(pos.sum())), np.zeros(int(neg.sum()))]
        else:
            xs.append(x)
            ys.append(np.zeros(len(x)))
    return np.concatenate(xs), np.concatenate(ys)


Model = tuple[np.ndarray, np.ndarray, list[np.ndarray]]


def train(x: np.ndarray, y: np.ndarray, seed: int) -> Model:
    """The head fitted to (x, y): Adam, positives weighted by a quarter of the class ratio,
    Gaussian noise of 0.1 on the standardised input, L2 1e-4."""
    r = np.random.default_rng(seed)
    mu, sd = x.mean(0), x.std(0) + 1e-3
    xn = (x - mu) / sd
    p = [
        r.standard_normal((x.shape[1], HIDDEN)) * np.sqrt(2 / x.shape[1]),
        np.zeros(HIDDEN),
        r.standard_normal(HIDDEN) * np.sqrt(1 / HIDDEN),
        np.array(0.0),
    ]
    m1, m2 = [np.zeros_like(a) for a in p], [np.zeros_like(a) for a in p]
    w_pos = (len(y) - y.sum()) / max(y.sum(), 1) * 0.25
    step = 0
    for _ in range(EPOCHS):
        order = r.permutation(len(y))
        for i in range(0, len(y), 256):
            b = order[i : i + 256]
            xb, yb = xn[b], y[b]
            r.random()  # kept: the probe drew one number per batch here
            xb = xb + r.standard_normal(xb.shape) * 0.1
            h = np.maximum(xb @ p[0] + p[1], 0)
            prob = 1 / (1 + np.exp(-np.clip(h @ p[2] + p[3], -30, 30)))
            g = (prob - yb) * np.where(yb > 0, w_pos, 1.0) / len(b)
            gh = np.outer(g, p[2]) * (h > 0)
            grads = [xb.T @ gh + 1e-4 * p[0], gh.sum(0), h.T @ g + 1e-4 * p[2], np.array(g.sum())]
            step += 1
            for j, gr in enumerate(grads):
                m1[j] = 0.9 * m1[j] + 0.1 * gr
                m2[j] = 0.999 * m2[j] + 0.001 * gr**2
                hat1, hat2 = m1[j] / (1 - 0.9**step), m2[j] / (1 - 0.999**step)
                p[j] = p[j] - 1e-3 * hat1 / (np.sqrt(hat2) + 1e-8)
    return mu, sd, p


def probabilities(model: Model, emb: np.ndarray) -> np.ndarray:
    from workers.asr.spotter import head_probabilities

    mu, sd, p = model
    return head_probabilities(emb, mu, sd, (p[0], p[1], p[2], float(p[3])))


def fit(
    synthetic: tuple[np.ndarray, np.ndarray],
    neg: list[np.ndarray],
    pos: list[np.ndarray],
    seed: int,
) -> Model:
    """A first model on the synthetic clips and the corpus negatives, then a second with each
    corpus stop file's best position (under the first) added twice as a positive."""
    from workers.asr.spotter import contexts

    xn = np.concatenate([contexts(e) for e in neg])
    x = np.concatenate([synthetic[0], xn])
    y = np.concatenate([synthetic[1], np.zeros(len(xn))])
    first = train(x, y, seed)
    xp = np.stack([contexts(e)[int(np.argmax(probabilities(first, e)))] for e in pos])
    return train(np.concatenate([x, xp, xp]), np.concatenate([y, np.ones(2 * len(xp))]), seed)


def tuning_files(spotter: Any) -> list[dict[str, Any]]:
    """Every English tuning file of the three corpora, cut as the VAD cuts it, with its
    embeddings and what host.yaml's other steps made of it (``bench/results/stopcheck.json``)."""
    from bench.understanding import HostSettings, _segment
    from bench.understanding_audio import build_audio
    from bench.understanding_corpus import load_corpus

    saved = json.loads((REPO / "bench" / "results" / "stopcheck.json").read_text())
    steps = {(f["corpus"], f["path"]): f for f in saved["files"]}
    host = HostSettings()
    out = []
    for name in CORPORA:
        corpus = load_corpus(REPO / "bench" / "data" / f"{name}.yaml")
        manifest = build_audio(corpus)
        for f in manifest.files:
            rec = steps.get((f"{name}.yaml", f.path))
            if f.lang != "en" or f.split != "tune" or rec is None:
                continue
            pcm = np.frombuffer(_segment(f, manifest.folder, host.vad).pcm, dtype="<i2")
            emb = spotter.embed(pcm.astype(np.float64) / 32768.0).astype(np.float16)
            out.append({**rec, "emb": emb, "fold": zlib.crc32(f.line_id.encode()) % 2})
    return out


def table(files: list[dict[str, Any]], scores: list[float]) -> list[str]:
    """Per threshold: what the spotter adds to host.yaml's other steps on the tuning files."""
    rows = [
        "| threshold | missed stop files recovered | STOPs added on files without a stop "
        "word | spotter alone: recall, false STOPs |",
        "| --- | --- | --- | --- |",
    ]
    stops = [(f, s) for f, s in zip(files, scores, strict=True) if f["wants_stop"]]
    clean = [(f, s) for f, s in zip(files, scores, strict=True) if not f["stop_word"]]
    missed = [f for f, _ in stops if not f["stop_with_both"]]
    for thr in THRESHOLDS:
        got = sum(1 for f, s in stops if not f["stop_with_both"] and f["checked"] and s >= thr)
        added = sum(1 for f, s in clean if not f["stop_with_both"] and f["checked"] and s >= thr)
        alone = sum(1 for _, s in stops if s >= thr)
        false = sum(1 for _, s in clean if s >= thr)
        rows.append(
            f"| {thr} | {got} of {len(missed)} | {added} of {len(clean)} | "
            f"{alone} of {len(stops)}, {false} of {len(clean)} |"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    ap = argparse.ArgumentParser(prog="python -m bench.spotter_train", description=__doc__)
    ap.add_argument("--no-save", action="store_true", help="print the table, keep the head")
    ap.add_argument("--folder", type=Path, default=Path("/tmp/voicebus-spotter"))
    ap.add_argument("--out", type=Path, help="where to write the head (default: the shipped one)")
    args = ap.parse_args(argv)
    from workers.asr.spotter import HEAD_PATH, StopSpotter

    t0 = time.monotonic()
    spotter = StopSpotter()
    args.folder.mkdir(parents=True, exist_ok=True)
    speech = Speech(args.folder)
    held = held_lines()
    written, docs = negatives(held)
    first = [(w, h, a) for w, h, a in positives(held)] + [("", t, "") for t in written]
    clips = synthesise(speech, spotter, first, len(speech.voices), 2)
    speech.fresh_piper()  # the probe spoke the docs' sentences in a second session
    clips += synthesise(speech, spotter, [("", t, "") for t in docs], 4, 1)
    synthetic = labelled(clips)
    print(
        f"{len(clips)} clips, {len(synthetic[1])} positions ({int(synthetic[1].sum())} "
        f"positive), {time.monotonic() - t0:.0f} s",
        flush=True,
    )
    files = tuning_files(spotter)
    scores: dict[int, float] = {}
    for fold in (0, 1):
        train_on = [f for f in files if f["fold"] != fold]
        model = fit(
            synthetic,
            [f["emb"] for f in train_on if not (f["stop_word"] or f["wants_stop"])],
            [f["emb"] for f in train_on if f["wants_stop"]],
            fold,
        )
        for i, f in enumerate(files):
            if f["fold"] == fold:
                scores[i] = float(probabilities(model, f["emb"]).max())
        print(f"fold {fold}: {time.monotonic() - t0:.0f} s", flush=True)
    print("\n".join(table(files, [scores[i] for i in range(len(files))])))
    if not args.no_save:
        final = fit(
            synthetic,
            [f["emb"] for f in files if not (f["stop_word"] or f["wants_stop"])],
            [f["emb"] for f in files if f["wants_stop"]],
            2,
        )
        mu, sd, p = final
        out = args.out or HEAD_PATH
        np.savez(
            out,
            mu=mu.astype(np.float32),
            sd=sd.astype(np.float32),
            W1=p[0].astype(np.float32),
            b1=p[1].astype(np.float32),
            W2=p[2].astype(np.float32),
            b2=np.float32(p[3]),
        )
        print(f"wrote {out} ({time.monotonic() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
