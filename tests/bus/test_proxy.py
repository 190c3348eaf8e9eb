"""The proxy drops messages over the documented limits before any subscriber sees them."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest
import zmq

from bus import nativeforward
from bus.busreaders import PROXY_NAME
from bus.errors import ConfigError
from bus.framecheck import MAX_ENVELOPE_BYTES, MAX_RAW_BYTES
from bus.framing import decode, encode
from bus.node import Node
from bus.nodeconfig import NodeConfig
from bus.proxy import WIRE_LIMIT_BYTES, Proxy
from schemas import AsrText, AudioFrame
from schemas.system import Metric


class Rig:
    """An in-process proxy, an outside publisher (plain pyzmq) and a plain subscriber to all."""

    def __init__(self, tmp: Path, native: bool) -> None:
        self.pub_ep, self.sub_ep = f"ipc://{tmp}/pub", f"ipc://{tmp}/sub"
        self.proxy = Proxy([self.pub_ep], [self.sub_ep], report_s=0.2, native=native)
        assert self.proxy.native is native
        self.proxy.start()
        self.ctx = zmq.Context()
        self.pub = self.ctx.socket(zmq.PUB)
        self.pub.connect(self.pub_ep)
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.RCVHWM, 100_000)
        self.sub.connect(self.sub_ep)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.seq = 0
        # the subscription reaches the publisher through the proxy: send until one comes back
        deadline = time.monotonic() + 10
        while not self.sub.poll(20):
            assert time.monotonic() < deadline, "the proxy never forwarded anything"
            self.pub.send_multipart(self.frames("warm"))
        while self.sub.poll(50):
            self.sub.recv_multipart()

    def frames(self, text: str) -> list[bytes]:
        self.seq += 1
        return encode("asr.text", AsrText(text=text, segment_id="s"), source="outside",
                      instance=7, seq=self.seq, ts_ns=1)  # fmt: skip

    def received_until(self, text: str) -> list[list[bytes]]:
        """Everything the subscriber gets up to the ``asr.text`` saying ``text`` (order is kept
        per publisher, so what was sent before it and is not here was never forwarded)."""
        got: list[list[bytes]] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if not self.sub.poll(100):
                continue
            frames = self.sub.recv_multipart()
            if frames[0] in (b"sys.metric", b"sys.bus"):  # the proxy's own
                continue
            got.append(frames)
            if frames[0] == b"asr.text" and msgpack.unpackb(frames[1])["p"]["text"] == text:
                return got
        raise AssertionError(f"the message {text!r} never arrived; got {len(got)} others")

    def close(self) -> None:
        self.pub.close(linger=0)
        self.sub.close(linger=0)
        self.ctx.term()
        self.proxy.stop()


def _native_or_skip(native: bool) -> bool:
    if native and nativeforward.load()[0] is None:
        pytest.skip(f"the C forwarding loop is not built: {nativeforward.load()[1]}")
    return native


@pytest.fixture(params=[True, False], ids=["C loop", "Python loop"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path, _native_or_skip(request.param))
    yield r
    r.close()


def _audio(raw: bytes) -> list[bytes]:
    topic, env, _ = encode("audio.frame", AudioFrame(pcm=b"", index=1, capture_ns=1),
                           source="outside", instance=7, seq=1, ts_ns=1)  # fmt: skip
    return [topic, env, raw]


def test_a_raw_frame_over_64_mib_reaches_no_subscriber_and_the_next_message_does(
    rig: Rig,
) -> None:
    rig.pub.send_multipart(_audio(bytes(MAX_RAW_BYTES + 1)), copy=False)
    rig.pub.send_multipart(rig.frames("after"))
    assert [f[0] for f in rig.received_until("after")] == [b"asr.text"]
    assert rig.proxy.stats.refused["raw_over_limit"] == 1


def test_envelope_over_4_mib_topic_over_4_mib_and_a_fourth_frame_are_refused(rig: Rig) -> None:
    good = rig.frames("x")
    rig.pub.send_multipart([good[0], bytes(MAX_ENVELOPE_BYTES + 1)])
    rig.pub.send_multipart([good[0], bytes(MAX_ENVELOPE_BYTES + 1), b"raw"])
    rig.pub.send_multipart([b"a" * (MAX_ENVELOPE_BYTES + 1), good[1]])
    rig.pub.send_multipart([*_audio(b"pcm"), b"fourth"])
    # at the limits exactly: forwarded (readers then judge the content)
    rig.pub.send_multipart([b"audio.frame", bytes(MAX_ENVELOPE_BYTES), bytes(MAX_RAW_BYTES)])
    rig.pub.send_multipart(rig.frames("after"))
    got = rig.received_until("after")
    assert [f[0] for f in got] == [b"audio.frame", b"asr.text"]
    assert [len(x) for x in got[0][1:]] == [MAX_ENVELOPE_BYTES, MAX_RAW_BYTES]
    assert rig.proxy.stats.refused == {
        "envelope_over_limit": 2,
        "raw_over_limit": 0,
        "topic_over_limit": 1,
        "too_many_frames": 1,
    }
    assert rig.proxy.stats.refused_total == 4


def test_a_refusal_is_logged_and_published_as_the_proxys_own_metric(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bus.forwarder")
    rig.pub.send_multipart(_audio(bytes(MAX_RAW_BYTES + 10)), copy=False)
    deadline = time.monotonic() + 20
    metric: Metric | None = None
    while metric is None and time.monotonic() < deadline:
        if rig.sub.poll(100):
            frames = rig.sub.recv_multipart()
            if frames[0] == b"sys.metric":
                m = decode(frames).payload
                assert isinstance(m, Metric)
                if m.name == "proxy_refused_total" and m.labels == {"reason": "raw_over_limit"}:
                    metric = m if m.value == 1 else None
    assert metric is not None and metric.worker == PROXY_NAME and metric.kind == "counter"
    lines = [r.getMessage() for r in caplog.records if "message_refused" in r.getMessage()]
    assert len(lines) == 1
    assert "reason=raw_over_limit topic='audio.frame'" in lines[0]
    assert f"bytes={MAX_RAW_BYTES + 10}" in lines[0]


def test_a_voicebus_node_keeps_receiving_around_a_refused_message(rig: Rig) -> None:
    cfg = NodeConfig(name="listener", pub_endpoint=rig.pub_ep, sub_endpoint=rig.sub_ep)
    with Node(cfg, signals=False) as node:
        node.subscribe("asr.text", "audio.frame")
        deadline = time.monotonic() + 20
        # the subscription reaches the publisher some time after subscribe(): send until it has
        while node.poll(0.1) is None and time.monotonic() < deadline:
            rig.pub.send_multipart(rig.frames("before"))
        rig.pub.send_multipart(_audio(bytes(MAX_RAW_BYTES + 1)), copy=False)
        rig.pub.send_multipart(rig.frames("after"))
        texts = []
        while "after" not in texts and time.monotonic() < deadline:
            msg = node.poll(0.1)
            if msg is not None:
                assert msg.topic == "asr.text"
                texts.append(msg.payload.text)  # type: ignore[union-attr]
        assert texts[-1] == "after" and set(texts) <= {"before", "after"}
        assert node.stats.malformed == 0


def test_frames_over_the_wire_limit_are_not_even_read() -> None:
    proxy = Proxy(["inproc://a"], ["inproc://b"], native=False)
    try:
        assert proxy._frontend.getsockopt(zmq.MAXMSGSIZE) == WIRE_LIMIT_BYTES
        assert WIRE_LIMIT_BYTES > MAX_RAW_BYTES
    finally:
        proxy.stop()


def test_the_c_loop_is_used_when_built_and_required_it_says_why_it_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if nativeforward.load()[0] is not None:
        proxy = Proxy(["inproc://c"], ["inproc://d"])
        assert proxy.native  # auto: the C loop
        proxy.stop()
    monkeypatch.setattr(nativeforward, "LIBRARY", tmp_path / "missing.so")
    with pytest.raises(ConfigError, match=r"not built \(run 'make -C bus/native'\)"):
        Proxy(["inproc://e"], ["inproc://f"], native=True)
