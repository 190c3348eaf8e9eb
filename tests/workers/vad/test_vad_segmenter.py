"""The segmenter state machine on synthetic voiced/unvoiced frame sequences (20 ms frames)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from workers.vad.segmenter import (
    PartialReady,
    SegmentClosed,
    Segmenter,
    SegmenterParams,
    SpeechEnded,
    SpeechResumed,
    SpeechStarted,
)

FRAME_MS = 20
FRAME_NS = FRAME_MS * 1_000_000
N = 16 * FRAME_MS  # samples per frame


def frame(i: int, voiced: bool, level: int = 1000) -> bytes:
    """Frame number ``i``: its samples all equal the frame number (so PCM can be traced)."""
    value = (i % 30000) + 1 if voiced else 0
    return np.full(N, value if level else 0, dtype="<i2").tobytes()


def run(pattern: str, params: SegmenterParams, levels: dict[int, float] | None = None):
    """Feed frames from a pattern of '1' (voiced) and '0'; return (frame number, event) pairs."""
    ids = (f"s{i}" for i in itertools.count())
    seg = Segmenter(params, new_id=lambda: next(ids))
    out = []
    for i, c in enumerate(pattern):
        level = (levels or {}).get(i, -20.0 if c == "1" else -60.0)
        for e in seg.push(frame(i, c == "1"), i * FRAME_NS, c == "1", level):
            out.append((i, e))
    for e in seg.flush():
        out.append((len(pattern), e))
    return out


def frames_in(pcm: bytes) -> list[int]:
    """Frame numbers whose samples make up ``pcm`` (0 for silent frames)."""
    x = np.frombuffer(pcm, dtype="<i2")
    return [int(v) - 1 if v else -1 for v in x[::N]]


P = SegmenterParams(
    frame_ms=FRAME_MS,
    start_voiced=3,
    start_window=5,
    pre_roll_ms=100,
    hangover_ms=200,
    post_roll_ms=60,
    min_speech_ms=100,
    max_segment_ms=2000,
    split_search_ms=400,
    partial_after_ms=0,
)


def test_start_needs_k_of_the_last_n_frames_voiced():
    assert run("0000" + "1001" + "0000000000" + "01", P) == []
    events = run("0000" + "10101" + "0" * 20, P)
    started = [(i, e) for i, e in events if isinstance(e, SpeechStarted)]
    assert len(started) == 1
    i, e = started[0]
    assert i == 8  # decided by the third voiced frame
    assert e.at_ns == 4 * FRAME_NS  # speech starts at the first voiced frame of the window
    assert e.decided_at_ns == 9 * FRAME_NS


def test_segment_keeps_the_pre_roll_before_the_speech_start():
    events = run("0" * 20 + "1" * 10 + "0" * 20, P)
    closed = [e for _, e in events if isinstance(e, SegmentClosed)]
    assert len(closed) == 1
    c = closed[0]
    assert c.speech_start_ns == 20 * FRAME_NS
    assert c.start_ns == 15 * FRAME_NS  # 100 ms = 5 frames of pre-roll
    assert frames_in(c.pcm)[:5] == [-1] * 5
    assert frames_in(c.pcm)[5] == 20


def test_pre_roll_is_cut_at_the_start_of_the_stream():
    c = next(e for _, e in run("0111111" + "0" * 20, P) if isinstance(e, SegmentClosed))
    assert c.start_ns == 0
    assert c.speech_start_ns == FRAME_NS


def test_speech_ends_after_the_hangover_at_the_end_of_the_last_voiced_frame():
    events = run("0" * 10 + "1" * 10 + "0" * 30, P)
    ended = [(i, e) for i, e in events if isinstance(e, SpeechEnded)]
    assert len(ended) == 1
    i, e = ended[0]
    assert e.at_ns == 20 * FRAME_NS
    assert i == 29  # 10 unvoiced frames = 200 ms of hangover, decided by frame 29
    assert e.decided_at_ns - e.at_ns == P.hangover_ms * 1_000_000
    assert not e.dropped
    c = next(e for _, e in events if isinstance(e, SegmentClosed))
    assert c.closed_by == "silence"
    assert c.speech_end_ns == 20 * FRAME_NS
    assert c.end_ns == 23 * FRAME_NS  # 60 ms of post-roll
    assert len(c.pcm) == (c.end_ns - c.start_ns) // FRAME_NS * N * 2


def test_pause_shorter_than_the_hangover_does_not_split_speech():
    # 8 unvoiced frames, then speech confirmed by its 2nd voiced frame: 180 ms < 200 ms.
    events = run("0" * 5 + "1" * 10 + "0" * 8 + "1" * 10 + "0" * 20, P)
    assert sum(isinstance(e, SegmentClosed) for _, e in events) == 1


def test_isolated_voiced_frames_in_the_hangover_do_not_prolong_speech() -> None:
    events = run("0" * 5 + "1" * 10 + "0000010000" + "1" + "0" * 20, P)
    (ended,) = [e for _, e in events if isinstance(e, SpeechEnded)]
    assert ended.at_ns == 15 * FRAME_NS  # the isolated hits are not speech
    one = SegmenterParams(**{**P.__dict__, "continue_voiced": 1})
    (ended,) = [
        e
        for _, e in run("0" * 5 + "1" * 10 + "0000010000" + "1" + "0" * 20, one)
        if isinstance(e, SpeechEnded)
    ]
    assert ended.at_ns == 26 * FRAME_NS  # with continue_voiced=1 every hit restarts the hangover


def test_events_come_in_order_started_ended_closed():
    events = [type(e) for _, e in run("0" * 5 + "1" * 10 + "0" * 20, P)]
    assert events == [SpeechStarted, SpeechEnded, SegmentClosed]


def test_too_short_speech_is_dropped_without_a_segment():
    events = run("0" * 5 + "111" + "0" * 20, P)  # 60 ms of speech < 100 ms
    assert [type(e) for _, e in events] == [SpeechStarted, SpeechEnded]
    assert events[1][1].dropped


def test_long_speech_is_split_at_the_quietest_frame_near_the_limit():
    pattern = "1" * 250 + "0" * 20
    quiet = 90  # inside the 400 ms search window before the 100-frame limit
    levels = {quiet: -45.0, 95: -40.0}
    events = run(pattern, P, levels)
    closed = [e for _, e in events if isinstance(e, SegmentClosed)]
    assert [c.closed_by for c in closed] == ["max_length", "max_length", "silence"]
    assert [c.part for c in closed] == [0, 1, 2]
    assert len({c.segment_id for c in closed}) == 1
    assert closed[0].end_ns == (quiet + 1) * FRAME_NS
    assert closed[1].start_ns == closed[0].end_ns
    # The parts are the stream cut in pieces: nothing lost, nothing repeated.
    joined = b"".join(c.pcm for c in closed)
    assert frames_in(joined)[:250] == list(range(250))
    assert all(len(c.pcm) <= P.max_segment_ms // FRAME_MS * N * 2 for c in closed)
    # speech started/ended once for the whole monologue
    assert sum(isinstance(e, SpeechStarted) for _, e in events) == 1
    assert sum(isinstance(e, SpeechEnded) for _, e in events) == 1


def test_split_prefers_an_unvoiced_frame_over_a_quiet_voiced_one():
    pattern = "1" * 85 + "0" + "1" * 50 + "0" * 20
    closed = [e for _, e in run(pattern, P, {90: -80.0}) if isinstance(e, SegmentClosed)]
    assert closed[0].end_ns == 86 * FRAME_NS


def test_flush_closes_an_open_segment():
    events = run("0" * 5 + "1" * 20, P)
    closed = [e for _, e in events if isinstance(e, SegmentClosed)]
    assert len(closed) == 1
    assert closed[0].closed_by == "flush"
    assert closed[0].end_ns == 25 * FRAME_NS


def test_two_utterances_get_two_segment_ids():
    events = run(("0" * 15 + "1" * 10) * 2 + "0" * 20, P)
    ids = [e.segment_id for _, e in events if isinstance(e, SegmentClosed)]
    assert ids == ["s0", "s1"]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"start_voiced": 6, "start_window": 5}, "start_voiced"),
        ({"post_roll_ms": 500, "hangover_ms": 200}, "post_roll_ms"),
        ({"split_search_ms": 3000, "max_segment_ms": 2000}, "split_search_ms"),
        ({"continue_voiced": 9, "start_window": 8}, "continue_voiced"),
    ],
)
def test_bad_parameters_are_refused_with_their_name(kwargs, words):
    with pytest.raises(ValueError, match=words):
        SegmenterParams(**kwargs)


# --- partials at pauses, and the wait the words call for ------------------------------------

PP = SegmenterParams(**{**P.__dict__, "partial_after_ms": 60})


def test_a_pause_publishes_the_open_segment_once_and_the_close_names_it():
    events = run("0" * 5 + "1" * 10 + "0" * 20, PP)
    kinds = [type(e).__name__ for _, e in events]
    assert kinds == ["SpeechStarted", "PartialReady", "SpeechEnded", "SegmentClosed"]
    ((i, part),) = [(i, e) for i, e in events if isinstance(e, PartialReady)]
    (closed,) = [e for _, e in events if isinstance(e, SegmentClosed)]
    assert i == 17  # the third unvoiced frame: 60 ms of silence
    assert part.revision == 0 and part.paused and part.segment_id == closed.segment_id
    assert part.speech_end_ns == closed.speech_end_ns == 15 * FRAME_NS
    assert frames_in(part.pcm) == [-1] * 5 + list(range(5, 15)) + [-1] * 3
    assert closed.partial_revision == 0 and closed.eot_wait_ms == P.hangover_ms


def test_speech_that_resumes_after_a_partial_makes_the_next_pause_a_new_revision():
    events = run("0" * 5 + "1" * 10 + "0" * 5 + "1" * 10 + "0" * 20, PP)
    parts = [e for _, e in events if isinstance(e, PartialReady)]
    assert [p.revision for p in parts] == [0, 1]
    assert parts[1].speech_end_ns == 30 * FRAME_NS
    (closed,) = [e for _, e in events if isinstance(e, SegmentClosed)]
    assert closed.partial_revision == 1


def test_speech_that_goes_on_after_a_pause_partial_is_announced_once_when_it_counts_again():
    events = run("0" * 5 + "1" * 10 + "0" * 5 + "1" * 10 + "0" * 20, PP)
    kinds = [type(e).__name__ for _, e in events]
    assert kinds == [
        "SpeechStarted",
        "PartialReady",
        "SpeechResumed",
        "PartialReady",
        "SpeechEnded",
        "SegmentClosed",
    ]
    ((i, resumed),) = [(i, e) for i, e in events if isinstance(e, SpeechResumed)]
    first = next(e for _, e in events if isinstance(e, PartialReady))
    # the second voiced frame (continue_voiced 2 of the window) makes it speech again
    assert i == 21 and resumed.at_ns == 21 * FRAME_NS and resumed.decided_at_ns == 22 * FRAME_NS
    assert (resumed.segment_id, resumed.revision, resumed.part) == (first.segment_id, 0, 0)


def test_no_resumption_without_a_pause_partial_or_for_a_lone_noise_hit():
    # a pause too short for a partial (40 ms < 60 ms), then more speech: nothing to take back
    events = run("0" * 5 + "1" * 10 + "00" + "1" * 10 + "0" * 20, PP)
    assert not any(isinstance(e, SpeechResumed) for _, e in events)
    # one voiced frame in the pause does not make speech again (continue_voiced of the window)
    events = run("0" * 5 + "1" * 10 + "0000" + "1" + "0" * 20, PP)
    assert not any(isinstance(e, SpeechResumed) for _, e in events)


def test_no_partial_for_speech_shorter_than_the_minimum():
    events = run("0" * 5 + "111" + "0" * 20, PP)
    assert not any(isinstance(e, PartialReady) for _, e in events)


def feed(seg: Segmenter, pattern: str, start: int = 0) -> list:
    out = []
    for k, c in enumerate(pattern):
        i = start + k
        out += seg.push(frame(i, c == "1"), i * FRAME_NS, c == "1", -20.0 if c == "1" else -60.0)
    return out


def test_a_shorter_wait_for_the_current_pause_closes_sooner_and_at_once_when_already_over():
    seg = Segmenter(PP, new_id=lambda: "s")
    events = feed(seg, "0" * 5 + "1" * 10 + "000")
    (part,) = [e for e in events if isinstance(e, PartialReady)]
    assert seg.set_wait("s", part.revision, 100) == []  # 60 ms of silence so far
    events = feed(seg, "0", 18) + feed(seg, "0", 19)
    (closed,) = [e for e in events if isinstance(e, SegmentClosed)]
    assert closed.eot_wait_ms == 100 and closed.partial_revision == part.revision
    seg = Segmenter(PP, new_id=lambda: "t")
    events = feed(seg, "0" * 5 + "1" * 10 + "00000")  # 100 ms of silence already
    (part,) = [e for e in events if isinstance(e, PartialReady)]
    kinds = [type(e) for e in seg.set_wait("t", part.revision, 60)]
    assert kinds == [SpeechEnded, SegmentClosed]


def test_a_wait_for_a_pause_the_speech_went_on_after_is_ignored_and_never_exceeds_the_hangover():
    seg = Segmenter(PP, new_id=lambda: "s")
    events = feed(seg, "0" * 5 + "1" * 10 + "000" + "1" * 5)
    (part,) = [e for e in events if isinstance(e, PartialReady)]
    assert seg.set_wait("s", part.revision, 20) == []  # speech resumed: out of date
    assert seg.set_wait("other", part.revision, 20) == []
    events = feed(seg, "0" * 9, 23)
    assert not any(isinstance(e, SegmentClosed) for e in events)  # the full hangover still holds
    seg = Segmenter(PP, new_id=lambda: "u")
    events = feed(seg, "0" * 5 + "1" * 10 + "000")
    (part,) = [e for e in events if isinstance(e, PartialReady)]
    seg.set_wait("u", part.revision, 5000)
    events = feed(seg, "0" * 7, 18)
    assert [e.eot_wait_ms for e in events if isinstance(e, SegmentClosed)] == [P.hangover_ms]


def test_partials_every_so_often_during_long_speech():
    every = SegmenterParams(**{**P.__dict__, "partial_every_ms": 200})
    events = run("0" * 5 + "1" * 45 + "0" * 20, every)
    parts = [(i, e) for i, e in events if isinstance(e, PartialReady)]
    assert [i for i, _ in parts] == [17, 27, 37, 47]
    assert not any(p.paused for _, p in parts)
