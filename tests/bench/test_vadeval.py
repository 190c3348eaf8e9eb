"""bench.vadeval's split: utterances by their sentence, detections by the utterance they hit."""

from __future__ import annotations

from bench.corpus import SENTENCES, Utterance
from bench.vadeval import HELD_TEXTS, Detection, in_split, score, split_of


def test_three_sentences_of_each_language_are_held_back():
    for lang, sentences in SENTENCES.items():
        held = [text for text, _ in sentences if text in HELD_TEXTS]
        assert len(held) == 3, lang
    assert split_of(Utterance("停", "zh", 0, 1)) == "held"
    assert split_of(Utterance("Stop.", "en", 0, 1)) == "tune"


def test_a_detection_counts_in_the_split_of_the_utterance_it_overlaps_or_is_nearest_to():
    held = Utterance("Turn left and slow down.", "en", 1.0, 2.0)
    tune = Utterance("Stop.", "en", 5.0, 5.5)
    truth = [held, tune]
    hit_held, hit_tune = Detection(1.0, 2.0, 2.5), Detection(5.0, 5.5, 6.0)
    false_near_tune = Detection(6.5, 6.7, 7.2)
    dets, utts = in_split([hit_held, hit_tune, false_near_tune], truth, "tune")
    assert dets == [hit_tune, false_near_tune] and utts == [tune]
    s = score(dets, utts)
    assert (s["missed"], s["false"]) == (0, 1)
    dets, utts = in_split([hit_held, hit_tune, false_near_tune], truth, "held")
    assert dets == [hit_held] and utts == [held]
    assert in_split([hit_held], truth, "all") == ([hit_held], truth)
