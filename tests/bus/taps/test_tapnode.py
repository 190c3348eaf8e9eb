"""TapNode: a slow tap loses its own messages only; bad frames are counted, never raised."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bus.errors import BusTimeout, FrameError, VersionError
from bus.framing import Envelope
from bus.node import Node
from bus.nodeconfig import NodeConfig
from bus.taps.tapnode import TapNode
from schemas import AsrText, Heartbeat
from tests.bus.conftest import ProxyProc
from tests.bus.taps.tapsupport import received


def _drain(node: Node, topic: str, want: int, timeout_s: float = 10.0) -> int:
    got = 0
    deadline = time.monotonic() + timeout_s
    while got < want and time.monotonic() < deadline:
        msg = node.poll(0.1)
        if msg is not None and msg.topic == topic:
            got += 1
    return got


def test_a_tap_that_never_reads_loses_its_own_messages_and_the_subscriber_gets_all(
    proxy: ProxyProc,
) -> None:
    n = 2000
    with (
        Node(proxy.config("pub"), signals=False) as pub,
        Node(proxy.config("sub"), signals=False) as sub,
        TapNode(proxy.config("tap"), ["asr.*"], queue_size=10) as tap,
    ):
        sub.subscribe("asr.text")
        time.sleep(0.1)  # subscriptions travel to the proxy
        for i in range(n):
            pub.publish("asr.text", AsrText(text=str(i), segment_id="s"))
        assert _drain(sub, "asr.text", n) == n
        deadline = time.monotonic() + 10
        while tap.stats.received < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tap.pending() == 10
        assert tap.stats.lost == tap.stats.received - 10
        assert tap.stats.lost > 0


def test_a_tap_sees_only_its_globs_and_never_the_start_up_probes(proxy: ProxyProc) -> None:
    with TapNode(proxy.config("tap"), ["asr.*"]) as tap:
        with Node(proxy.config("pub"), signals=False) as pub:  # its handshake probes travel too
            pub.publish("asr.text", AsrText(text="a", segment_id="s"))
            pub.metric("x", 1.0)
            item = tap.get(5.0)
            assert item is not None and item.topic == "asr.text"
            time.sleep(0.2)
            assert tap.get(0.1) is None


def test_decode_counts_malformed_and_refused_frames_and_reports_gaps() -> None:
    cfg = NodeConfig(name="t", pub_endpoint="inproc://a", sub_endpoint="inproc://b")
    tap = TapNode(cfg, [], handshake=False, publisher=False)
    try:
        good = received("asr.text", AsrText(text="hi", segment_id="s"), seq=1)
        assert isinstance(tap.decode(good), Envelope)
        later = received("asr.text", AsrText(text="hi", segment_id="s"), seq=5)
        assert isinstance(tap.decode(later), Envelope)
        assert tap.last_gap == 3 and tap.stats.gaps == 3
        bad = type(good)(good.recv_ns, [b"asr.text", b"\xc1not msgpack"])
        assert isinstance(tap.decode(bad), FrameError)
        import msgpack

        env = msgpack.unpackb(good.frames[1])
        env["v"] = [9, 0]
        wrong = type(good)(good.recv_ns, [b"asr.text", msgpack.packb(env)])
        assert isinstance(tap.decode(wrong), VersionError)
        assert tap.stats.malformed == 1
        assert tap.stats.refused_version == 1
        assert tap.stats.malformed_by_topic == {"asr.text": 2}
        assert "protocol 9.0" in tap.stats.last_error
    finally:
        tap.close()


def test_no_bus_is_a_clear_timeout(tmp_path: Path) -> None:
    cfg = NodeConfig(
        name="t",
        pub_endpoint=f"ipc://{tmp_path}/nobody-pub",
        sub_endpoint=f"ipc://{tmp_path}/nobody-sub",
        handshake_timeout_s=0.3,
    )
    with pytest.raises(BusTimeout, match="supervisor"):
        TapNode(cfg)


def test_a_tap_run_by_the_supervisor_beats_ready_like_a_worker(proxy: ProxyProc) -> None:
    with Node(proxy.config("supervisor"), signals=False) as sup:
        sup.subscribe("sys.heartbeat")
        time.sleep(0.1)
        with TapNode(proxy.config("metrics", heartbeat_ms=50), heartbeat=True):
            deadline = time.monotonic() + 10
            beat = None
            while time.monotonic() < deadline:
                msg = sup.poll(0.1)
                p = None if msg is None else msg.payload
                if isinstance(p, Heartbeat) and p.worker == "metrics":
                    beat = p
                    break
    assert beat is not None and beat.state == "ready"
