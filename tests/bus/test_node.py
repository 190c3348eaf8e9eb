"""Nodes over a real proxy process: delivery, late joiners, bad frames, heartbeats, stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import msgpack
import pytest
import zmq

from bus.errors import BusTimeout, ConfigError
from bus.framing import encode
from bus.node import Node
from bus.nodeconfig import NodeConfig
from schemas import AsrText, Heartbeat
from tests.bus.conftest import ProxyProc


def _recv(node: Node, topic: str, timeout_s: float = 5.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        msg = node.poll(0.1)
        if msg is not None and msg.topic == topic:
            return msg
    raise AssertionError(f"nothing on {topic} within {timeout_s} s")


def test_a_late_joiner_receives_what_is_published_after_its_handshake(proxy: ProxyProc) -> None:
    with Node(proxy.config("early"), signals=False) as early:
        with Node(proxy.config("late"), signals=False) as late:
            late.subscribe("asr.text")
            late.ready()
            time.sleep(0.05)  # subscription travels to the publisher through the proxy
            for i in range(100):
                early.publish("asr.text", AsrText(text=str(i), segment_id="s"))
            texts = [_recv(late, "asr.text").payload.text for _ in range(100)]
            assert texts == [str(i) for i in range(100)]
            assert late.stats.gaps == 0


def test_bad_frames_from_a_foreign_publisher_are_counted_and_dropped(proxy: ProxyProc) -> None:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    rogue = ctx.socket(zmq.PUB)
    rogue.connect(proxy.pub)

    def marker(seq: int) -> list[bytes]:
        return encode(
            "asr.text",
            AsrText(text=f"m{seq}", segment_id="s"),
            source="rogue",
            instance=5,
            seq=seq,
            ts_ns=1,
        )

    with Node(proxy.config("sub"), signals=False) as sub:
        sub.subscribe("asr.*")
        seq = 0
        while sub.poll(0.05) is None:  # until the rogue publisher has our subscription
            seq += 1
            rogue.send_multipart(marker(seq))
        while sub.poll(0.2) is not None:
            pass
        before = (sub.stats.malformed, sub.stats.refused_version)
        rogue.send_multipart([b"asr.text", b"\xc1\xc1"])
        rogue.send_multipart([b"asr.text", msgpack.packb({"v": [9, 0]})])
        rogue.send_multipart([b"asr.text"])
        rogue.send_multipart(marker(seq + 1))
        assert _recv(sub, "asr.text").payload.text == f"m{seq + 1}"
        after = (sub.stats.malformed, sub.stats.refused_version)
        assert (after[0] - before[0], after[1] - before[1]) == (2, 1)
    rogue.close(linger=0)


def test_ready_is_announced_at_once_not_at_the_next_period(proxy: ProxyProc) -> None:
    with Node(proxy.config("watcher"), signals=False) as watcher:
        watcher.subscribe("sys.heartbeat")
        with Node(proxy.config("w", heartbeat_ms=60_000), signals=False) as w:
            time.sleep(0.2)
            w.ready()
            beat = _recv(watcher, "sys.heartbeat", timeout_s=5.0).payload
            while beat.state != "ready":
                beat = _recv(watcher, "sys.heartbeat", timeout_s=5.0).payload
            assert isinstance(beat, Heartbeat) and beat.pid == os.getpid()
            assert beat.worker == "w"


def test_no_proxy_gives_a_clear_timeout(tmp_path: Path) -> None:
    cfg = NodeConfig(
        name="x",
        pub_endpoint=f"ipc://{tmp_path}/p",
        sub_endpoint=f"ipc://{tmp_path}/s",
        handshake_timeout_s=0.3,
    )
    with pytest.raises(BusTimeout, match="Is the supervisor"):
        Node(cfg, signals=False)


def test_tcp_without_curve_keys_is_refused() -> None:
    with pytest.raises(ConfigError, match="unauthenticated tcp is refused"):
        NodeConfig.parse(
            {
                "name": "x",
                "pub_endpoint": "tcp://127.0.0.1:5550",
                "sub_endpoint": "tcp://127.0.0.1:5551",
            }
        )


def test_worker_stops_cleanly_on_sigterm(proxy: ProxyProc, tmp_path: Path) -> None:
    script = tmp_path / "w.py"
    script.write_text(
        textwrap.dedent("""
        from bus import Node
        node = Node.from_env()
        node.subscribe("asr.text")
        node.ready()
        print("ready", flush=True)
        for msg in node:
            pass
        node.close()
        print("clean", flush=True)
    """)
    )
    env = {
        **os.environ,
        "VOICEBUS_NODE": proxy.config("w").model_dump_json(),
        "PYTHONPATH": str(Path.cwd()),
    }
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "clean" in out
