"""The publisher and subscriber processes of ``bench.bus``, one pair per system measured.

    python -m bench.busnodes ROLE SPEC.json

ROLE is ``<system>-pub`` or ``<system>-sub`` with system ``zmq`` (raw pyzmq, no envelope;
through the proxy, or straight from PUB to SUB when SPEC has a ``direct_endpoint``),
``voicebus`` (``bus.Node`` publishing ``audio.frame`` models with the bus's defaults; SPEC's
``shm_min_bytes``, ``shm_ring_bytes`` and ``shm_hold_ms`` set those bus keys, ``in_place`` has
the subscriber read shared-memory payloads in place, and the publisher writes
``ctl/shm_held.json``: per phase, the payloads sent in frame 2 because the ring was held, and
``ctl/shm_gated.json``, those sent in frame 2 because the proxy had not said that every reader
reads shared memory) or
``dora`` (dora-rs Python nodes, started by ``dora run``). Only the standard library is imported
at the top so the dora nodes run in any interpreter that has ``dora-rs``.

Every system follows the same script, driven by the plan in SPEC: the publisher sends warm-up
messages until the subscriber touches ``ctl/warm``; then per payload size a paced latency phase
(one message every ``lat_interval_s``) and a burst phase (as fast as the publisher can); after
each phase it waits for the subscriber to touch ``ctl/done_<phase>`` (the last message arrived or
nothing came for a while), so a burst never queues ahead of the next latency phase. Each message
carries its send time (monotonic ns, taken before the message is built, so building, encoding,
the hops and decoding are all inside the measured latency), its phase and its index. The
subscriber writes what it measured to ``out`` as JSON.
"""

from __future__ import annotations

import json
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["SubCollector", "run_pub"]

WARMUP = -2
DONE = -1
#: A phase is over when nothing arrived for this long, s.
IDLE_S = 0.3
HEADER = struct.Struct("<qii")  # send ns, phase, index (raw pyzmq)


class SubCollector:
    """The subscriber's bookkeeping, the same for every system."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.ctl = Path(spec["ctl"])
        self.out = Path(spec["out"])
        self.expected: dict[int, int] = {}
        for k, item in enumerate(spec["plan"]):
            self.expected[2 * k] = item["lat_n"]
            self.expected[2 * k + 1] = item["burst_n"]
        self.lat_us: dict[int, list[float]] = {}
        self.burst: dict[int, dict[str, int]] = {}
        self.current: int | None = None
        self.last_recv_ns = 0
        self.warm = False
        self.done = False

    def on(self, phase: int, index: int, sent_ns: int, now_ns: int) -> None:
        """One received message."""
        if phase == WARMUP:
            if not self.warm:
                (self.ctl / "warm").touch()
                self.warm = True
            return
        if phase == DONE:
            self.finish()
            self.done = True
            return
        if self.current is not None and phase != self.current:
            self.finish()
        self.current = phase
        self.last_recv_ns = now_ns
        if phase % 2 == 0:
            self.lat_us.setdefault(phase, []).append((now_ns - sent_ns) / 1e3)
        else:
            b = self.burst.setdefault(phase, {"n": 0, "first_sent_ns": sent_ns, "last_ns": 0})
            b["n"] += 1
            b["first_sent_ns"] = min(b["first_sent_ns"], sent_ns)
            b["last_ns"] = now_ns
        if index >= self.expected.get(phase, 0) - 1:
            self.finish()

    def tick(self, now_ns: int) -> None:
        """Call when nothing arrived: ends a phase that went quiet."""
        if self.current is not None and now_ns - self.last_recv_ns > IDLE_S * 1e9:
            self.finish()

    def finish(self) -> None:
        """Tell the publisher the current phase is over."""
        if self.current is not None:
            (self.ctl / f"done_{self.current}").touch()
            self.current = None

    def write(self) -> None:
        """Save the measurements."""
        data = {"lat_us": self.lat_us, "burst": self.burst}
        self.out.write_text(json.dumps(data))


def run_pub(spec: dict[str, Any], send: Callable[[int, int, int], None]) -> None:
    """Drive the plan through ``send(phase, index, size)``."""
    ctl = Path(spec["ctl"])
    deadline = time.monotonic() + spec.get("warm_timeout_s", 30.0)
    i = 0
    while not (ctl / "warm").exists():
        if time.monotonic() > deadline:
            raise SystemExit("bench publisher: the subscriber never received the warm-up.")
        send(WARMUP, i, 64)
        i += 1
        time.sleep(0.005)
    time.sleep(0.2)
    wait_s = spec.get("phase_timeout_s", 20.0)
    for k, item in enumerate(spec["plan"]):
        size, interval = item["size"], item["lat_interval_s"]
        due = time.monotonic()
        for i in range(item["lat_n"]):
            send(2 * k, i, size)
            due += interval
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        _wait(ctl / f"done_{2 * k}", wait_s)
        for i in range(item["burst_n"]):
            send(2 * k + 1, i, size)
        _wait(ctl / f"done_{2 * k + 1}", wait_s)
        time.sleep(0.05)
    for i in range(5):
        send(DONE, i, 64)
        time.sleep(0.01)


def _wait(path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.001)


# --- raw pyzmq ------------------------------------------------------------------------------


def zmq_pub(spec: dict[str, Any]) -> None:
    import zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUB)
    sock.setsockopt(zmq.SNDHWM, 100_000)
    sock.connect(spec.get("direct_endpoint") or spec["pub_endpoint"])
    payloads = {s: bytes(s) for s in _sizes(spec)}
    topic = b"bench"

    def send(phase: int, index: int, size: int) -> None:
        t = time.monotonic_ns()
        sock.send_multipart(
            [topic, HEADER.pack(t, phase, index), payloads[size]], copy=size < 65536
        )

    run_pub(spec, send)
    sock.close(linger=2000)
    ctx.term()


def zmq_sub(spec: dict[str, Any]) -> None:
    import zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.RCVHWM, 100_000)
    if spec.get("direct_endpoint"):  # no proxy: the subscriber binds, the publisher connects
        sock.bind(spec["direct_endpoint"])
    else:
        sock.connect(spec["sub_endpoint"])
    sock.setsockopt(zmq.SUBSCRIBE, b"bench")
    col = SubCollector(spec)
    (col.ctl / "ready").touch()
    deadline = time.monotonic() + spec["run_timeout_s"]
    while not col.done and time.monotonic() < deadline:
        if sock.poll(50):
            frames = sock.recv_multipart()
            now = time.monotonic_ns()
            sent, phase, index = HEADER.unpack(frames[1])
            col.on(phase, index, sent, now)
        else:
            col.tick(time.monotonic_ns())
    col.write()
    sock.close(linger=0)
    ctx.term()


# --- voicebus -------------------------------------------------------------------------------


def _node(spec: dict[str, Any], name: str) -> Any:
    from bus.node import Node
    from bus.nodeconfig import NodeConfig

    cfg = NodeConfig(
        name=name,
        pub_endpoint=spec["pub_endpoint"],
        sub_endpoint=spec["sub_endpoint"],
        **{k: spec[k] for k in ("shm_min_bytes", "shm_hold_ms", "shm_ring_bytes") if k in spec},
    )
    return Node(cfg, signals=False)


def voicebus_pub(spec: dict[str, Any]) -> None:
    from schemas.audio import AudioFrame

    node = _node(spec, "bench-pub")
    node.ready()
    payloads = {s: bytes(s) for s in _sizes(spec)}
    shm = node._shm
    held: dict[int, int] = {}  # phase -> payloads sent in frame 2 because the ring was held
    gated: dict[int, int] = {}  # phase -> ... because the proxy had not said every reader reads

    def send(phase: int, index: int, size: int) -> None:
        t = time.monotonic_ns()
        frame = AudioFrame(pcm=payloads[size], index=index, capture_ns=t, source=str(phase))
        before = (shm.held, shm.gated) if shm is not None else (0, 0)
        node.publish("audio.frame", frame)
        if shm is not None and shm.held != before[0]:
            held[phase] = held.get(phase, 0) + 1
        if shm is not None and shm.gated != before[1] and phase >= 0:
            gated[phase] = gated.get(phase, 0) + 1

    run_pub(spec, send)
    if shm is not None:
        (Path(spec["ctl"]) / "shm_held.json").write_text(json.dumps(held))
        (Path(spec["ctl"]) / "shm_gated.json").write_text(json.dumps(gated))
    time.sleep(0.2)
    node.close()


def voicebus_sub(spec: dict[str, Any]) -> None:
    node = _node(spec, "bench-sub")
    node.subscribe("audio.frame")
    if spec.get("in_place", False):  # shared-memory payloads as views of the ring, not copies
        node.read_in_place("audio.frame")
    node.ready()
    col = SubCollector(spec)
    (col.ctl / "ready").touch()
    deadline = time.monotonic() + spec["run_timeout_s"]
    while not col.done and time.monotonic() < deadline:
        msg = node.poll(0.05)
        now = time.monotonic_ns()
        if msg is None:
            col.tick(now)
            continue
        p = msg.payload
        col.on(int(p.source), p.index, p.capture_ns, now)
    col.write()
    node.close()


# --- dora-rs --------------------------------------------------------------------------------


def dora_pub(spec: dict[str, Any]) -> None:
    import numpy as np
    import pyarrow as pa
    from dora import Node

    node = Node()
    arrays = {s: pa.array(np.zeros(s, dtype=np.uint8)) for s in _sizes(spec)}

    def send(phase: int, index: int, size: int) -> None:
        t = time.monotonic_ns()
        node.send_output("data", arrays[size], {"t": t, "phase": phase, "i": index})

    run_pub(spec, send)


def dora_sub(spec: dict[str, Any]) -> None:
    from dora import Node

    node = Node()
    col = SubCollector(spec)
    (col.ctl / "ready").touch()
    deadline = time.monotonic() + spec["run_timeout_s"]
    while not col.done and time.monotonic() < deadline:
        event = node.next(timeout=0.05)
        now = time.monotonic_ns()
        if event is None:
            col.tick(now)
            continue
        if event["type"] == "INPUT":
            meta = event["metadata"]
            col.on(int(meta["phase"]), int(meta["i"]), int(meta["t"]), now)
        elif event["type"] in ("STOP", "INPUT_CLOSED"):
            col.tick(now)
    col.write()


def _sizes(spec: dict[str, Any]) -> set[int]:
    return {64} | {item["size"] for item in spec["plan"]}


ROLES: dict[str, Callable[[dict[str, Any]], None]] = {
    "zmq-pub": zmq_pub,
    "zmq-sub": zmq_sub,
    "voicebus-pub": voicebus_pub,
    "voicebus-sub": voicebus_sub,
    "dora-pub": dora_pub,
    "dora-sub": dora_sub,
}


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.busnodes ROLE SPEC.json``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ROLES:
        print(f"usage: python -m bench.busnodes {{{','.join(ROLES)}}} SPEC.json", file=sys.stderr)
        return 2
    ROLES[args[0]](json.loads(Path(args[1]).read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
