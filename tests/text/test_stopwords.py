"""The stop-word matcher: every corpus label, the forms, and the words that are not stop words."""

from __future__ import annotations

import pytest

from bench.understanding_corpus import load_corpus
from text.stopwords import STOP_FORMS, find_stop, has_stop_word, stop_kind


def test_the_corpus_lists_exactly_these_stop_forms():
    corpus = load_corpus()
    assert {k: tuple(v) for k, v in corpus.stop_words.items()} == STOP_FORMS


def test_every_corpus_line_is_matched_as_it_is_labelled():
    wrong = [
        (line.id, line.reference, line.stop_word)
        for line in load_corpus().lines
        if has_stop_word(line.reference) != line.stop_word
    ]
    assert wrong == []


def test_every_stop_line_of_the_corpus_gives_its_first_command_kind():
    for line in load_corpus().lines:
        if line.category == "stop":
            assert stop_kind(line.reference) == line.intents[0]["kind"], line.id


@pytest.mark.parametrize(
    "text",
    ["STOP!", "stop", "Halt.", "freeze", "Hit the brakes", "brake!", "Don't move!",
     "Don\u2019t   move", "ok, stop it", "停", "停车！", "快停下", "别动", "不要动", "站住",
     "赶紧刹车", "別動", "停車", "Hey robot, 停", "Do not move!", "dont move", "E-stop!",
     "estop"],
)  # fmt: skip
def test_stop_forms_are_found(text):
    assert has_stop_word(text)


@pytest.mark.parametrize(
    "text",
    ["I stopped by the shop.", "The bus was stopping.", "It stops here.", "a non-stop flight",
     "stop-motion films", "Halting problem", "freezer", "breaking news", "Don't movie",
     "doesn't move me", "前进一米", "动一下", "", "   ", "do not remove it", "the e-stopper",
     "bestop", "急转弯"],
)  # fmt: skip
def test_other_words_are_not_stop_words(text):
    assert not has_stop_word(text)


def test_the_hit_says_where_and_which_kind():
    hit = find_stop("Okay STOP, that's far enough.")
    assert hit is not None and (hit.form, hit.start, hit.end, hit.kind) == ("STOP", 5, 9, "stop")
    assert stop_kind("Emergency stop!") == "estop"
    assert stop_kind("急停") == "estop" and stop_kind("紧急停车") == "estop"
    assert stop_kind("停车") == "stop"
    hit = find_stop("don\u2019t move")
    assert hit is not None and hit.form == "don\u2019t move"  # offsets in the original


def test_the_other_spellings_of_a_form_and_the_emergency_forms_give_their_kind():
    assert stop_kind("Do not move!") == "stop" and stop_kind("dont move") == "stop"
    assert stop_kind("E-stop!") == "estop" and stop_kind("e stop now") == "estop"
    assert stop_kind("急刹车") == "estop" and stop_kind("急剎車") == "estop"
    assert stop_kind("紧急停止") == "estop" and stop_kind("赶紧刹车") == "stop"
