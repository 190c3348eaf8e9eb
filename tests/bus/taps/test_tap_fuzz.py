"""Fuzz: whatever arrives, every tap counts and shows it and carries on."""

from __future__ import annotations

import time
from collections.abc import Iterator

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bus.framing import Envelope
from bus.nodeconfig import NodeConfig
from bus.taps.metrics import BusMetrics
from bus.taps.observe import BusObserver
from bus.taps.recordfile import RecordWriter, read
from bus.taps.replay import Rewriter
from bus.taps.tap import format_json, format_line
from bus.taps.tapnode import Received, TapNode
from bus.taps.top import render, snapshot
from schemas import AsrText
from tests.bus.taps.tapsupport import received

_ints = st.integers(-(2**63), 2**64 - 1)
_scalars = st.one_of(st.none(), st.booleans(), _ints, st.floats(), st.text(), st.binary())
_envelopes = st.dictionaries(
    st.sampled_from(["v", "src", "inst", "seq", "ts", "tr", "sv", "p", "raw", "x"]),
    st.one_of(_scalars, st.lists(_ints, max_size=3), st.dictionaries(st.text(), _scalars)),
).map(lambda d: msgpack.packb(d, use_bin_type=True))
_frames = st.lists(
    st.one_of(st.binary(max_size=64), _envelopes, st.sampled_from([b"asr.text", b"sys.heartbeat"])),
    min_size=0,
    max_size=4,
)


@pytest.fixture(scope="module")
def tap() -> Iterator[TapNode]:
    """One decoding tap for every example (nothing ever connects to its sockets)."""
    cfg = NodeConfig(name="t", pub_endpoint="inproc://a", sub_endpoint="inproc://b")
    with TapNode(cfg, [], handshake=False, publisher=False) as node:
        yield node


@settings(max_examples=300, deadline=None)
@given(frames=_frames)
def test_any_frames_are_counted_shown_and_survived(tap: TapNode, frames: list[bytes]) -> None:
    obs, metrics = BusObserver(), BusMetrics()
    item = Received(time.monotonic_ns(), frames)
    msg = tap.decode(item)
    assert isinstance(msg, Envelope | Exception)
    obs.observe(item, msg, tap.last_gap)
    metrics.observe(item, msg, tap.last_gap)
    format_line(item, msg)
    format_json(item, msg)
    render(snapshot(obs, tap.stats))
    list(metrics.collect())
    Rewriter("r").rewrite(frames, 0)
    good = received("asr.text", AsrText(text="still here", segment_id="s"))
    assert isinstance(tap.decode(good), Envelope)  # the next good frame is delivered


@settings(max_examples=50, deadline=None)
@given(frames=st.lists(st.binary(max_size=32), max_size=4), cut=st.integers(0, 200))
def test_any_cut_of_a_recording_reads_without_error(
    tmp_path_factory: pytest.TempPathFactory, frames: list[bytes], cut: int
) -> None:
    path = tmp_path_factory.mktemp("rec") / "r.vbrec"
    w = RecordWriter(path, ["*"], "t", overwrite=True)
    for i in range(3):
        w.write(i, frames)
    w.close(lost=0)
    data = path.read_bytes()
    header_len = len(data) - 3 * len(msgpack.packb([0, frames])) - 40
    path.write_bytes(data[: max(header_len, len(data) - cut)])
    try:
        rec = read(path)
    except Exception as exc:  # only a cut into the header may refuse, and clearly
        assert "not a voicebus recording" in str(exc) or "empty" in str(exc)
        return
    assert all(r[1] == frames for r in rec.records())
