"""Shared memory is on by default but used only while every reader reads it: the proxy counts
its readers and says so on ``sys.bus``; a publisher's gate believes only the proxy; a reader
that does not read rings (or sits on tcp) gets every payload in its frame while it is there."""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq

from bus import nativeforward, shm
from bus.busreaders import PROXY_NAME, ReaderCount, monitor
from bus.connect import SHM_READER
from bus.framing import decode, encode
from bus.node import Node
from bus.nodeconfig import SHM_MIN_BYTES, NodeConfig
from bus.proxy import Proxy
from bus.shmgate import ShmGate
from schemas import AudioFrame
from schemas.system import BusReaders

REPO = Path(__file__).parents[2]
LOOPS = [
    pytest.param(True, id="C loop", marks=pytest.mark.skipif(
        nativeforward.load()[0] is None, reason="bus/native not built")),
    pytest.param(False, id="Python loop"),
]  # fmt: skip


def _until(what: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not what():
        assert time.monotonic() < deadline, "the state never came"
        time.sleep(0.01)


class Watcher:
    """A reader of ``sys.bus`` that reads rings (it subscribes to the marker, as nodes do)."""

    def __init__(self, ctx: zmq.Context, endpoint: str) -> None:
        self.sock = ctx.socket(zmq.SUB)
        self.sock.connect(endpoint)
        self.sock.setsockopt(zmq.SUBSCRIBE, b"sys.bus")
        self.sock.setsockopt(zmq.SUBSCRIBE, SHM_READER)
        self.last: BusReaders | None = None

    def read(self) -> BusReaders | None:
        while self.sock.poll(0):
            env = decode(self.sock.recv_multipart())
            assert env.source == PROXY_NAME and isinstance(env.payload, BusReaders)
            self.last = env.payload
        return self.last

    def says(self, **want: object) -> bool:
        last = self.read()
        return last is not None and all(getattr(last, k) == v for k, v in want.items())


@pytest.fixture
def ctx() -> Iterator[zmq.Context]:
    c = zmq.Context()
    yield c
    c.destroy(linger=0)  # every socket closed, even after a failed assert


@pytest.fixture(params=LOOPS)
def proxy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Proxy, str, str]]:
    pub, sub = f"ipc://{tmp_path}/pub", f"ipc://{tmp_path}/sub"
    p = Proxy([pub], [sub], report_s=30.0, native=request.param)  # no periodic report
    p.start()
    yield p, pub, sub
    p.stop()


def test_the_proxy_says_shared_memory_only_while_every_reader_reads_it(
    proxy: tuple[Proxy, str, str], ctx: zmq.Context
) -> None:
    _, _, sub = proxy
    watcher = Watcher(ctx, sub)
    _until(lambda: watcher.says(shm=True, readers=1, shm_readers=1, remote_readers=0))
    plain = ctx.socket(zmq.SUB)  # a reader of protocol 1.0: it subscribes to what it reads
    plain.connect(sub)
    plain.setsockopt(zmq.SUBSCRIBE, b"audio.")
    _until(lambda: watcher.says(shm=False, readers=2, shm_readers=1))
    second = Watcher(ctx, sub)
    _until(lambda: watcher.says(shm=False, readers=3, shm_readers=2))
    plain.close(linger=0)  # gone: its connection ends, and shared memory is on again
    _until(lambda: watcher.says(shm=True, readers=2, shm_readers=2))
    second.sock.setsockopt(zmq.UNSUBSCRIBE, SHM_READER)  # it takes back what it said
    _until(lambda: watcher.says(shm=False, readers=2, shm_readers=1))
    second.sock.close(linger=0)
    _until(lambda: watcher.says(shm=True, readers=1, shm_readers=1))


def test_the_monitor_queue_never_stalls_the_sockets_io_thread(tmp_path: Path) -> None:
    """libzmq sends monitor events with a blocking send from the I/O thread: with pyzmq's
    default monitor queue (2000 events) a burst of connections nobody has read yet blocked that
    thread, and with it every connection and message of the socket, until the queue was read."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 8192:
        pytest.skip(f"needs 8192 open files, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 8192), hard))
    server, clients = zmq.Context(), zmq.Context()
    clients.set(zmq.MAX_SOCKETS, 4096)
    try:
        xpub = server.socket(zmq.XPUB)
        mon = monitor(xpub)
        assert mon.getsockopt(zmq.RCVHWM) == 0
        endpoint = f"ipc://{tmp_path}/sub"
        xpub.bind(endpoint)
        n = 1100  # 2200 events (accepted, then disconnected), none read while they come
        subs = [clients.socket(zmq.SUB) for _ in range(n)]
        for s in subs:
            s.connect(endpoint)
        time.sleep(1.0)
        for s in subs:
            s.close(linger=0)
        late = clients.socket(zmq.SUB)  # accepted only if the I/O thread is not blocked
        late.connect(endpoint)
        late.setsockopt(zmq.SUBSCRIBE, b"")
        deadline = time.monotonic() + 20.0
        got = False
        while not got and time.monotonic() < deadline:
            xpub.send(b"hello")
            got = late.poll(100) != 0
        assert got, "the XPUB socket stopped serving while its monitor queue was full"
        events = ReaderCount()
        events.read_monitor(mon)
        assert events.state().readers == 1  # every accepted and disconnected event was kept
    finally:
        server.destroy(linger=0)
        clients.destroy(linger=0)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_reader_on_tcp_counts_against_shared_memory_whatever_it_subscribes() -> None:
    count = ReaderCount()
    count.on_event(zmq.EVENT_ACCEPTED, 7, "ipc:///run/vb/sub")
    count.marked = 1
    assert count.state() == BusReaders(shm=True, readers=1, shm_readers=1, remote_readers=0)
    count.on_event(zmq.EVENT_ACCEPTED, 9, "tcp://0.0.0.0:5551")
    count.marked = 2  # even if it said it reads rings: another machine's cannot
    assert count.state() == BusReaders(shm=False, readers=2, shm_readers=2, remote_readers=1)
    count.on_event(zmq.EVENT_DISCONNECTED, 9, "tcp://0.0.0.0:5551")
    count.on_event(zmq.EVENT_DISCONNECTED, 11, "ipc:///run/vb/sub")  # never seen: ignored
    count.marked = 1
    assert count.state().shm and count.state().readers == 1


def _frame(n: int) -> AudioFrame:
    return AudioFrame(pcm=bytes([n % 256]) * (2 * SHM_MIN_BYTES), index=n, capture_ns=n)


@pytest.mark.skipif(not shm.available(), reason="no /dev/shm or bus/native not built")
def test_a_default_publisher_uses_shared_memory_only_while_no_plain_reader_is_connected(
    proxy: tuple[Proxy, str, str], ctx: zmq.Context
) -> None:
    _, pub_ep, sub_ep = proxy
    cfg: dict[str, Any] = {"pub_endpoint": pub_ep, "sub_endpoint": sub_ep}
    wire = ctx.socket(zmq.SUB)  # sees what travels; says it reads rings, so turns nothing off
    wire.connect(sub_ep)
    wire.setsockopt(zmq.SUBSCRIBE, b"audio.")
    wire.setsockopt(zmq.SUBSCRIBE, SHM_READER)
    with (
        Node(NodeConfig(name="p", **cfg), signals=False) as pub,  # the defaults: no shm key
        Node(NodeConfig(name="s", **cfg), signals=False) as sub,
    ):
        sub.subscribe("audio.frame")
        gate = pub._shm_gate
        assert gate is not None and pub._shm is not None
        _until(gate.open)
        sent = 0

        def publish_and_take(readers: list[Callable[[], list[bytes]]]) -> list[list[bytes]]:
            nonlocal sent
            sent += 1
            pub.publish("audio.frame", _frame(sent))
            got = sub.poll(10.0)
            assert got is not None and isinstance(got.payload, AudioFrame)
            assert got.payload.pcm == _frame(sent).pcm
            return [take() for take in readers]

        def take_from(sock: zmq.Socket) -> Callable[[], list[bytes]]:
            def take() -> list[bytes]:
                assert sock.poll(10_000), "nothing arrived"
                return sock.recv_multipart()

            return take

        publish_and_take([take_from(wire)])  # the subscription path is made
        [frames] = publish_and_take([take_from(wire)])
        assert "shm" in msgpack.unpackb(frames[1])  # every reader reads rings: the ring
        plain = ctx.socket(zmq.SUB)  # protocol 1.0: reads frame 2 only
        plain.connect(sub_ep)
        plain.setsockopt(zmq.SUBSCRIBE, b"audio.")
        _until(lambda: not gate.open())
        for _ in range(20):
            time.sleep(0.01)
            w, p = publish_and_take([take_from(wire), take_from(plain)])
            for frames in (w, p):
                env = msgpack.unpackb(frames[1])
                assert env["raw"] == "pcm" and "shm" not in env and tuple(env["v"]) == (1, 0)
            plain_frame = decode(p).payload
            assert isinstance(plain_frame, AudioFrame) and plain_frame.pcm == _frame(sent).pcm
        assert pub._shm.gated == 20
        plain.close(linger=0)
        _until(gate.open)
        [frames] = publish_and_take([take_from(wire)])
        assert "shm" in msgpack.unpackb(frames[1])


def test_the_gate_believes_only_the_proxys_sys_bus(
    caplog: pytest.LogCaptureFixture, ctx: zmq.Context
) -> None:
    out = ctx.socket(zmq.PUB)
    out.bind("inproc://bus")
    sock = ctx.socket(zmq.SUB)
    sock.connect("inproc://bus")
    sock.setsockopt(zmq.SUBSCRIBE, b"sys.bus")
    gate = ShmGate(sock)
    yes = BusReaders(shm=True, readers=1, shm_readers=1, remote_readers=0)

    def send(frames: list[bytes]) -> None:
        out.send_multipart(frames)
        time.sleep(0.05)

    def said(state: BusReaders, src: str, seq: int) -> list[bytes]:
        return encode("sys.bus", state, source=src, instance=3, seq=seq, ts_ns=1)

    assert not gate.open()  # nothing said yet: no
    send(said(yes, "mallory", 1))
    with caplog.at_level(logging.WARNING, logger="bus.shmgate"):
        assert not gate.open()
    assert "sys.bus from 'mallory'" in caplog.text
    send(said(yes, PROXY_NAME, 1))
    assert gate.open() and gate.last == yes
    send([b"sys.bus", b"\xc1 not msgpack"])
    assert gate.open()  # a malformed frame changes nothing
    send(said(yes.model_copy(update={"shm": False, "readers": 2}), PROXY_NAME, 2))
    assert not gate.open()


def test_a_reader_that_leaves_takes_only_its_own_subscriptions_with_it(
    proxy: tuple[Proxy, str, str],
) -> None:
    # The XPUB socket passes every (un)subscription on (ZMQ_XPUB_VERBOSER) so that each
    # reader's marker is counted; a topic two readers take must stay on when one goes.
    _, pub_ep, sub_ep = proxy
    cfg = {"pub_endpoint": pub_ep, "sub_endpoint": sub_ep, "shm_min_bytes": 0}
    with (
        Node(NodeConfig(name="p", **cfg), signals=False) as pub,  # type: ignore[arg-type]
        Node(NodeConfig(name="s", **cfg), signals=False) as stays,  # type: ignore[arg-type]
    ):
        stays.subscribe("audio.frame")
        with Node(NodeConfig(name="g", **cfg), signals=False) as goes:  # type: ignore[arg-type]
            goes.subscribe("audio.frame")
            time.sleep(0.2)
        time.sleep(1.5)  # the proxy has seen it go and passed its unsubscriptions on
        small = AudioFrame(pcm=bytes(640), index=1, capture_ns=1)
        pub.publish("audio.frame", small)
        got = stays.poll(5.0)
        assert got is not None and got.payload == small
