"""bench.eot's measure and rules (the figures themselves belong in bench/results)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.eot import Case, classify, evaluate, fixed, heuristic, main, text_cases, tune
from bench.understanding_corpus import load_corpus


def _case(lid: str, partials: tuple[tuple[str, int], ...], final: str, split: str = "tune") -> Case:
    return Case(lid, split, "en", "text", partials, final)


CASES = [
    _case("a", (("Drive forward", 800),), "Drive forward two meters."),
    _case("b", (("Turn left and", 600),), "Turn left and go."),
    _case("c", (), "Stop."),
    _case("d", (), "what time is it"),
]


def test_a_pause_as_long_as_the_wait_cuts_the_user_off_and_the_rest_wait_at_the_end() -> None:
    r = evaluate(fixed(600), CASES)
    assert (r["cut_off"], r["cut_off_lines"]) == (2, ["a@text", "b@text"])
    r = evaluate(fixed(801), CASES)
    assert r["cut_off"] == 0 and r["end_wait_ms"] == {"p50": 801.0, "p90": 801.0, "mean": 801.0}
    assert r["lines"] == 4 and r["with_pauses"] == 2


def test_transcripts_are_trailing_complete_or_open() -> None:
    assert classify("Turn left and", "en") == "trailing"
    assert classify("Move forward one meter,", "en") == "trailing"
    assert classify("先右转，然后", "zh") == "trailing"
    assert classify("Dry forward.", "en") == "complete"
    assert classify("Drive forward", "en") == "open"
    # the grammar reads the commands it knows first: a bare drive may go on, a whole one is done
    assert classify("Drive forward", "en", grammar=True) == "trailing"
    assert classify("Move forward one meter,", "en", grammar=True) == "complete"
    assert classify("what time is it,", "en", grammar=True) == "trailing"
    assert classify("", "en") == "trailing"


def test_the_heuristic_waits_by_class_and_tuning_finds_the_cheapest_safe_setting() -> None:
    rule = heuristic(100, 500, 900)
    assert [rule(t, "en") for t in ("Stop.", "Drive forward", "Turn left and")] == [100, 500, 900]
    best = tune(CASES)
    assert best["fixed"] == {"wait_ms": 850}  # waits must exceed the 800 ms hesitation
    h = best["heuristic"]
    assert evaluate(heuristic(h["short_ms"], h["default_ms"], h["long_ms"]), CASES)["cut_off"] == 0
    assert h["short_ms"] == 100 and h["default_ms"] > 800 and h["long_ms"] > 600


def test_text_cases_follow_the_pause_marks_of_the_corpus() -> None:
    corpus = load_corpus()
    cases = {c.line_id: c for c in text_cases(corpus.lines)}
    assert cases["en-command-30"].partials == (("Drive forward", 800),)
    assert cases["en-command-30"].final == "Drive forward two meters."
    assert sum(bool(c.partials) for c in cases.values()) == sum(
        bool(x.pause_ms) for x in corpus.lines
    )


def test_text_only_study_reports_tuned_rules_on_both_splits(tmp_path: Path) -> None:
    out = tmp_path / "eot.json"
    assert main(["--text-only", "--out", str(out)]) == 0
    study = json.loads(out.read_text())["studies"]["text (reference words)"]
    assert set(study["params"]) >= {"fixed", "heuristic", "heuristic+grammar"}
    assert study["held"]["fixed"]["lines"] == len(load_corpus().split("held"))
    assert out.with_suffix(".md").is_file()


def test_a_cut_off_that_leaves_the_cars_commands_unchanged_is_counted_apart() -> None:
    same = Case(
        "s", "tune", "en", "text", (("Move forward one meter,", 700),),
        "Move forward one meter, then beep.", ("then beep.",), "Move forward one meter, then beep.",
    )  # fmt: skip
    other = Case(
        "o", "tune", "en", "text", (("Turn right.", 700),),
        "Turn right forty five degrees.", ("forty five degrees.",), "Turn right 45 degrees.",
    )  # fmt: skip
    r = evaluate(fixed(600), [same, other])
    assert (r["cut_off"], r["cut_off_lines"]) == (1, ["o@text"])
    assert (r["harmless_cut_off"], r["harmless_cut_off_lines"]) == (1, ["s@text"])
