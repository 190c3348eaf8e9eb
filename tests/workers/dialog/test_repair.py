"""Near-miss repair: misheard command words are put back; a number is never invented or changed."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from text import lexicon as lx
from text.commands import parse_command
from text.grammar_en import tokens
from text.numbers import EN_ONES, EN_TENS, is_number_char, number_words_en
from workers.dialog.repair import repair


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("Dry forward two meters.", "drive forward two meters"),
        ("turn write", "turn right"),
        ("turn lift ninety degrees", "turn left ninety degrees"),
        ("go for word two meters", "go forward two meters"),
        ("go bag half a meter", "go back half a meter"),
        ("tern right", "turn right"),
        ("钱进两米", "前进两米"),
        ("後退半米", "后退半米"),
        ("又转", "右转"),
    ],
)
def test_a_misheard_command_word_is_repaired(heard, meant):
    fixed = repair(heard)
    assert fixed.text == meant and fixed.changes
    assert parse_command(fixed.text) == parse_command(meant) is not None


@pytest.mark.parametrize(
    "text",
    [
        "Go back at the meter.",  # the number was lost: nothing to repair it from
        "drive forward to meters",  # "to" is never made into "two"
        "go back won meter",  # nor "won" into "one"
        "go forward for meters",
        "What time is it?",
        "My brother went back to school yesterday.",
        "停车场在哪里",
        "他往左转就到学校了",
    ],
)
def test_nothing_is_repaired_into_a_number_or_where_nothing_sounds_like_a_command(text):
    fixed = repair(text)
    assert all(c[1] not in EN_ONES and not any(map(is_number_char, c[1])) for c in fixed.changes)
    assert number_words_en(tokens(fixed.text)) == number_words_en(tokens(text))


@pytest.mark.parametrize(
    "text",
    [
        "I mean right",  # "mean right" sounds like "minute", but "right" was heard as said
        "I mean, go left",
        "the meeters",  # a unit only after its number
    ],
)
def test_a_command_word_heard_is_kept_and_a_unit_comes_only_after_a_number(text):
    fixed = repair(text)
    assert not any(new in {"minute", "minutes", "meters", "meter"} for _, new in fixed.changes)
    assert repair("two meeters").text == "two meters"


def test_a_word_is_never_repaired_into_a_stop_word():
    # STOP has its own path on the word itself; "stopped" must not become a false STOP.
    assert repair("Stopped.").text != "stop"
    assert parse_command(repair("Stopped.").text) is None


def _numbers_zh(text: str) -> list[str]:
    return [ch for ch in text if is_number_char(ch)]


_NUMBER_WORDS = [*EN_ONES, *EN_TENS, "half", "a", "an", "point", "hundred", "1.5", "2", "30"]
_MISHEARD = ["dry", "write", "lift", "tern", "bag", "for", "word", "to", "won", "at", "the",
             "four", "ate", "too", "tree", "fore", "meat", "hours", "sex", "free", "tin",
             "fife"]  # fmt: skip
_WORDS = sorted(lx.VOCABULARY_EN) + _NUMBER_WORDS + _MISHEARD


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=9))
def test_a_repair_never_invents_removes_or_changes_a_number_english(words):
    text = " ".join(words)
    fixed = repair(text)
    assert number_words_en(tokens(fixed.text)) == number_words_en(tokens(text))
    for _, new in fixed.changes:
        assert not number_words_en(new.split())


_ZH_CHARS = "前进钱后退腿左做右又转拐停车米秘度秒一二两三四五六七八九十百半点厘往向后頭轉後兩"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_ZH_CHARS, min_size=1, max_size=10))
def test_a_repair_never_invents_removes_or_changes_a_number_chinese(text):
    fixed = repair(text)
    assert _numbers_zh(fixed.text) == _numbers_zh(text)


@pytest.mark.parametrize(
    ("heard", "distance_m"),
    [("Dry forward two meters.", 2.0), ("go bag one and a half meters", -1.5), ("钱进三米", 3.0)],
)
def test_a_repaired_command_carries_exactly_the_amount_that_was_heard(heard, distance_m):
    assert parse_command(heard) is None
    assert parse_command(repair(heard).text) == [{"kind": "drive", "distance_m": distance_m}]


def _closest_unpruned(key: str) -> str | None:
    """The nearest-target search measured against every target (what ``_closest`` prunes)."""
    from workers.dialog.repair import _TARGET_KEYS, _allowed, _distance

    limit = _allowed(key)
    if limit == 0:
        return None
    best, found = limit + 1, set()
    for target_key, words in _TARGET_KEYS.items():
        d = _distance(key, target_key)
        if d < best:
            best, found = d, set(words)
        elif d == best:
            found |= set(words)
    return next(iter(found)) if best <= limit and len(found) == 1 else None


@settings(max_examples=300, deadline=None)
@given(
    target=st.sampled_from(sorted(lx.REPAIR_TARGETS_EN)),
    edits=st.lists(
        st.tuples(st.sampled_from("ids"), st.integers(0, 12), st.sampled_from("abdefiklmnorstuvw")),
        max_size=3,
    ),
)
def test_the_pruned_cached_search_finds_what_measuring_every_target_finds(target, edits):
    from workers.dialog.repair import _closest, sound_key

    key = list(sound_key(target))
    for op, at, ch in edits:
        at = min(at, len(key))
        if op == "i":
            key.insert(at, ch)
        elif key and at < len(key):
            key[at : at + 1] = [] if op == "d" else [ch]
    k = "".join(key)
    assert _closest(k) == _closest_unpruned(k)
    assert _closest(k) == _closest_unpruned(k)  # and again, from the cache
