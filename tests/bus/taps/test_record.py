"""bus.taps.record / bus.taps.replay: the file format, envelope rewriting, pacing, topic filters."""

from __future__ import annotations

import time
from pathlib import Path

import msgpack
import pytest

from bus.framing import Envelope, decode
from bus.node import Node
from bus.taps.recordfile import RecordingError, RecordWriter, read
from bus.taps.replay import Rewriter, replay
from schemas import AsrText, AudioFrame
from tests.bus.conftest import ProxyProc
from tests.bus.taps.tapsupport import frames, start


def _write(path: Path, records: list[tuple[int, list[bytes]]]) -> None:
    w = RecordWriter(path, ["*"], "test", overwrite=False)
    for recv_ns, fr in records:
        w.write(recv_ns, fr)
    w.close(lost=0)


def test_a_recording_reads_back_exactly_with_header_and_trailer(tmp_path: Path) -> None:
    recs = [
        (1_000, frames("asr.text", AsrText(text="a", segment_id="s"))),
        (2_000, frames("audio.frame", AudioFrame(pcm=b"\x01\x02" * 320, index=0, capture_ns=5))),
        (3_000, [b"asr.text", b"\xc1 malformed, recorded as it travelled"]),
    ]
    _write(tmp_path / "r.vbrec", recs)
    rec = read(tmp_path / "r.vbrec")
    assert rec.header["format"] == "voicebus-record" and rec.header["protocol"] == [1, 0]
    assert list(rec.records()) == recs
    assert rec.trailer["records"] == 3 and not rec.truncated


def test_a_file_cut_short_is_readable_up_to_its_last_whole_record(tmp_path: Path) -> None:
    path = tmp_path / "r.vbrec"
    recs = [(i, frames("asr.text", AsrText(text=str(i), segment_id="s"))) for i in range(5)]
    _write(path, recs)
    data = path.read_bytes()
    trailer_len = len(msgpack.packb({"end_ns": 0, "records": 5, "lost": 0})) + 8
    path.write_bytes(data[: -trailer_len - 10])  # into the last record
    rec = read(path)
    assert [r[0] for r in rec.records()] == [0, 1, 2, 3]
    assert rec.truncated


def test_not_a_recording_and_overwriting_are_refused_clearly(tmp_path: Path) -> None:
    other = tmp_path / "x.bin"
    other.write_bytes(msgpack.packb({"hello": 1}))
    with pytest.raises(RecordingError, match="not a voicebus recording"):
        read(other)
    with pytest.raises(RecordingError, match="does not exist"):
        read(tmp_path / "missing")
    with pytest.raises(RecordingError, match="--force"):
        RecordWriter(other, ["*"], "t", overwrite=False)
    assert other.read_bytes() == msgpack.packb({"hello": 1})


def test_replay_keeps_payload_and_trace_and_becomes_the_source() -> None:
    original = frames(
        "audio.frame",
        AudioFrame(pcm=b"\x07\x00" * 320, index=42, capture_ns=5),
        source="mic",
        seq=900,
        trace="turn-7",
    )
    rw = Rewriter("replay")
    out = rw.rewrite(original, time.monotonic_ns())
    assert out is not None
    a, b = decode(original), decode(out)
    assert b.payload == a.payload and b.trace == "turn-7"
    assert (b.source, b.seq, b.instance) == ("replay", 1, rw.instance)
    assert rw.rewrite([b"asr.text", b"\xc1"], 0) is None


def test_replay_filters_topics_and_keeps_the_original_pace(tmp_path: Path) -> None:
    path = tmp_path / "r.vbrec"
    recs = [
        (i * 50_000_000, frames(t, AsrText(text=str(i), segment_id="s"), seq=i + 1))
        for i, t in enumerate(["asr.text", "ext.other.x", "asr.text", "asr.text"])
    ]
    _write(path, recs)
    sent: list[tuple[int, list[bytes]]] = []
    stats = replay(
        read(path),
        lambda fr: sent.append((time.monotonic_ns(), fr)),
        Rewriter("r"),
        topics=["asr.*"],
        speed=1.0,
    )
    assert (stats.sent, stats.filtered) == (3, 1)
    assert [decode(fr).payload.text for _, fr in sent] == ["0", "2", "3"]  # type: ignore[union-attr]
    assert sent[-1][0] - sent[0][0] >= 150_000_000  # recorded 150 ms apart
    fast: list[list[bytes]] = []
    replay(read(path), fast.append, Rewriter("r"), topics=["*"], speed=0.0)
    assert len(fast) == 4


@pytest.mark.slow
def test_record_then_replay_through_the_bus(proxy: ProxyProc, tmp_path: Path) -> None:
    path = tmp_path / "s.vbrec"
    rec = start(["bus.taps.record", str(path), "asr.*", "audio.*", "-n", "3"], proxy)
    with Node(proxy.config("asr"), signals=False) as node:
        node.publish("asr.text", AsrText(text="one", segment_id="s"), trace="t1")
        node.publish("audio.frame", AudioFrame(pcm=b"\x01\x00" * 320, index=0, capture_ns=1))
        node.publish("asr.text", AsrText(text="two", segment_id="s"))
        _, err = rec.communicate(timeout=20)
    assert rec.returncode == 0 and "3 messages" in err
    with Node(proxy.config("listener"), signals=False) as listener:
        listener.subscribe("asr.text", "audio.frame")
        time.sleep(0.1)
        replayer = start(["bus.taps.replay", str(path), "--fast", "asr.*"], proxy)
        _, err = replayer.communicate(timeout=20)
        assert "sent=2 filtered=1" in err
        got: list[Envelope] = []
        deadline = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < deadline:
            msg = listener.poll(0.1)
            if msg is not None and msg.topic in ("asr.text", "audio.frame"):
                got.append(msg)
    assert [m.payload.text for m in got] == ["one", "two"]  # type: ignore[union-attr]
    assert {m.source for m in got} == {"replay"} and got[0].trace == "t1"
