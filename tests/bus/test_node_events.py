"""The event loop on the ZeroMQ node over a real proxy: ticks under a flood, descriptors, ages."""

from __future__ import annotations

import os
import threading
import time

from bus import Envelope, Readable, Tick, Wakeup
from bus.node import Node
from schemas import AsrText
from tests.bus.conftest import ProxyProc


def _text(i: int) -> AsrText:
    return AsrText(text=str(i), segment_id="s")


def _connected(pub: Node, sub: Node) -> None:
    """Publish markers until ``sub`` receives one (its subscription reached ``pub``)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pub.publish("asr.text", AsrText(text="marker", segment_id="m"))
        if sub.poll(0.05) is not None:
            while sub.poll(0.1) is not None:
                pass
            return
    raise AssertionError("the subscription never reached the publisher")


def test_the_tick_comes_while_a_flood_of_messages_is_still_queued(proxy: ProxyProc) -> None:
    with Node(proxy.config("src"), signals=False) as src:
        with Node(proxy.config("worker"), signals=False) as worker:
            worker.subscribe("asr.text")
            _connected(src, worker)
            n = 5000
            for i in range(n):
                src.publish("asr.text", _text(i))
            kinds: list[str] = []
            received = 0
            for event in worker.events(tick_s=0.001):
                kinds.append(type(event).__name__)
                if isinstance(event, Envelope):
                    received += 1
                    if received == n:
                        break
            assert received == n
            # 5000 decodes take well over 1 ms: ticks must appear among the messages, on time
            assert "Tick" in kinds[: kinds.index("Envelope") + n - 1]


def test_a_message_is_yielded_at_once_not_at_the_next_tick(proxy: ProxyProc) -> None:
    with Node(proxy.config("src"), signals=False) as src:
        with Node(proxy.config("worker"), signals=False) as worker:
            worker.subscribe("asr.text")
            _connected(src, worker)
            loop = worker.events(tick_s=30.0)
            threading.Timer(0.05, lambda: src.publish("asr.text", _text(7))).start()
            first = next(iter(loop))  # a loop that slept until the tick would yield a Tick
            assert isinstance(first, Envelope) and first.payload.text == "7"  # type: ignore[union-attr]
            assert first.recv_ns >= first.ts_ns and first.age_ms >= 0.0
            assert first.recv_ns <= time.monotonic_ns()


def test_a_wakeup_from_another_thread_wakes_the_waiting_loop(proxy: ProxyProc) -> None:
    with Node(proxy.config("worker"), signals=False) as worker:
        wake = Wakeup()
        try:
            threading.Timer(0.05, wake.set).start()
            first = next(iter(worker.events(tick_s=30.0, watch=[wake])))
            assert isinstance(first, Readable) and first.source is wake
            assert wake.clear() == 1
        finally:
            wake.close()


def test_a_watched_pipe_is_served_during_a_flood(proxy: ProxyProc) -> None:
    r, w = os.pipe()
    try:
        with Node(proxy.config("src"), signals=False) as src:
            with Node(proxy.config("worker"), signals=False) as worker:
                worker.subscribe("asr.text")
                _connected(src, worker)
                for i in range(2000):
                    src.publish("asr.text", _text(i))
                time.sleep(0.2)  # let the flood queue up in the worker's socket
                os.write(w, b"!")
                received = 0
                readable_after = None
                for event in worker.events(watch=[r]):
                    if isinstance(event, Readable):
                        os.read(r, 1)
                        readable_after = received
                    else:
                        received += 1
                        if received == 2000:
                            break
                assert readable_after is not None and readable_after < 2000
    finally:
        os.close(r)
        os.close(w)


def test_skip_own_drops_its_own_messages_over_the_socket(proxy: ProxyProc) -> None:
    with Node(proxy.config("other"), signals=False) as other:
        with Node(proxy.config("worker"), signals=False) as worker:
            worker.subscribe("asr.text")
            _connected(other, worker)
            worker.publish("asr.text", _text(1))
            time.sleep(0.05)  # ours is queued first
            other.publish("asr.text", _text(2))
            first = next(iter(worker.events(skip_own=True)))
            assert isinstance(first, Envelope) and first.source == "other"


def test_the_loop_notices_a_stop_while_waiting(proxy: ProxyProc) -> None:
    with Node(proxy.config("worker"), signals=False) as worker:
        threading.Timer(0.05, worker.request_stop).start()
        assert [e for e in worker.events(tick_s=60.0) if not isinstance(e, Tick)] == []
        assert not worker.running


def test_pending_says_whether_a_message_waits(proxy: ProxyProc) -> None:
    with Node(proxy.config("src"), signals=False) as src:
        with Node(proxy.config("worker"), signals=False) as worker:
            worker.subscribe("asr.text")
            _connected(src, worker)
            assert worker.pending() == 0
            src.publish("asr.text", _text(1))
            deadline = time.monotonic() + 5
            while not worker.pending() and time.monotonic() < deadline:
                time.sleep(0.01)
            assert worker.pending() == 1
            assert worker.poll(1.0) is not None
            assert worker.pending() == 0


def test_a_message_sent_while_the_worker_was_busy_is_queued_time_not_bus_time(
    proxy: ProxyProc,
) -> None:
    """Over a real proxy, with a watched descriptor as the ASR's loop has: a message sent while
    the worker handles another waits for it (``queued_ms``), which is not bus time."""
    with Node(proxy.config("src"), signals=False) as src:
        with Node(proxy.config("worker"), signals=False) as worker:
            worker.subscribe("asr.text")
            _connected(src, worker)
            wake = Wakeup()
            got: list[Envelope] = []
            try:
                threading.Timer(0.05, lambda: src.publish("asr.text", _text(1))).start()
                for event in worker.events(watch=[wake]):
                    if isinstance(event, Readable):
                        wake.clear()
                        continue
                    assert isinstance(event, Envelope)
                    got.append(event)
                    if len(got) == 1:  # busy 0.3 s; meanwhile a message and the descriptor
                        threading.Timer(0.1, lambda: src.publish("asr.text", _text(2))).start()
                        threading.Timer(0.15, wake.set).start()
                        time.sleep(0.3)
                    elif len(got) == 2:
                        threading.Timer(0.1, lambda: src.publish("asr.text", _text(3))).start()
                    else:
                        break
            finally:
                wake.close()
            idle, busy, later = got
            # (the wait's end and the receipt: two clock readings a few microseconds apart)
            assert idle.age_ms > 0 and idle.bus_ms >= 0.9 * idle.age_ms
            assert busy.age_ms > 150 and busy.queued_ms > 150 and busy.bus_ms < 20
            assert later.age_ms > 0 and later.bus_ms >= 0.9 * later.age_ms  # idle again
