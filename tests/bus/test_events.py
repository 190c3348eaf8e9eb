"""The event loop on the in-memory node, on a fake clock: ticks, ages, own messages, descriptors."""

from __future__ import annotations

import itertools
import os
import threading
from typing import Any

import pytest

from bus import Envelope, MemoryBus, Readable, Tick, Wakeup
from schemas import AsrText
from tests.fakeclock import MS
from tests.fakeclock import FakeClock as Clock


def _text(i: int) -> AsrText:
    return AsrText(text=str(i), segment_id="s")


def test_a_message_arrives_as_its_envelope_with_its_receive_time_and_age() -> None:
    clock = Clock()
    bus = MemoryBus(clock=clock)
    asr, worker = bus.node("asr"), bus.node("worker")
    worker.subscribe("asr.text")
    asr.publish("asr.text", _text(1), trace="t1")
    published_ns = clock.now_ns
    clock.now_ns += 2_500_000
    (msg,) = list(worker.events())
    assert isinstance(msg, Envelope) and msg.trace == "t1"
    assert msg.ts_ns == published_ns and msg.recv_ns == clock.now_ns
    assert msg.age_ms == 2.5


def _asr_and_worker(clock: Clock, sleep: object) -> tuple[Any, Any]:
    """An ``asr`` node and a ``worker`` subscribed to its transcripts, on a memory bus whose
    idle loops ``sleep``."""
    bus = MemoryBus(clock=clock, sleep=sleep)  # type: ignore[arg-type]
    peer, worker = bus.node("asr"), bus.node("worker")
    worker.subscribe("asr.text")
    return peer, worker


def test_a_message_that_waited_for_a_busy_worker_counts_only_its_time_before_as_bus_time():
    clock = Clock()
    sent: list[str] = []

    def sleep(ns: int, fds: object) -> tuple[()] | None:
        if len(sent) != 1:  # before the tick: idle; after both: the loop ends
            clock.now_ns += ns
            return None if sent else ()
        clock.now_ns += ns - 2 * MS  # idle; 2 ms before the wait ends, a message is sent
        peer.publish("asr.text", _text(2))
        sent.append("while idle")
        clock.now_ns += 2 * MS
        return ()

    peer, worker = _asr_and_worker(clock, sleep)
    got = []
    for event in worker.events(tick_s=1.0):
        if isinstance(event, Tick) and not sent:
            peer.publish("asr.text", _text(1))  # sent while the worker handles its tick
            sent.append("while busy")
            clock.now_ns += 50 * MS
        elif isinstance(event, Envelope):
            got.append(event)
    busy, idle = got
    assert busy.age_ms == 50.0 and busy.bus_ms == 0.0 and busy.queued_ms == 50.0
    assert idle.age_ms == 2.0 and idle.bus_ms == 2.0 and idle.queued_ms == 0.0


def test_a_message_that_comes_while_the_loop_waits_after_a_tick_is_all_bus_time():
    clock = Clock()
    ticks: list[Tick] = []
    sent: list[int] = []

    def sleep(ns: int, fds: object) -> tuple[()] | None:
        if not ticks:  # until the first tick: idle
            clock.now_ns += ns
            return ()
        if sent:
            return None  # the test is over
        clock.now_ns += 3 * MS  # 3 ms after the tick's handler, a message is sent
        peer.publish("asr.text", _text(1))
        sent.append(1)
        clock.now_ns += 2 * MS  # and received 2 ms later
        return ()

    peer, worker = _asr_and_worker(clock, sleep)
    got = []
    for event in worker.events(tick_s=1.0):
        if isinstance(event, Tick):
            ticks.append(event)
            clock.now_ns += 10 * MS  # the tick's work
        elif isinstance(event, Envelope):
            got.append(event)
    (msg,) = got
    assert (msg.age_ms, msg.bus_ms, msg.queued_ms) == (2.0, 2.0, 0.0)


def test_bus_time_is_the_age_until_the_receiver_last_found_its_queue_empty() -> None:
    e = Envelope("t", "a", 1, 1, ts_ns=100 * MS, trace="", payload={})
    assert (e.age_ms, e.bus_ms, e.queued_ms) == (0.0, 0.0, 0.0)  # not received
    e.recv_ns = 130 * MS
    assert (e.age_ms, e.bus_ms, e.queued_ms) == (30.0, 30.0, 0.0)  # no empty_ns: all of it
    e.empty_ns = 110 * MS  # in transit until 110, then it waited 20 ms for the worker
    assert (e.bus_ms, e.queued_ms) == (10.0, 20.0)
    e.empty_ns = 90 * MS  # the worker was busy since before it was sent
    assert (e.bus_ms, e.queued_ms) == (0.0, 30.0)
    e.empty_ns = 140 * MS  # (a later empty moment cannot count more than the age)
    assert (e.bus_ms, e.queued_ms) == (30.0, 0.0)


def test_an_envelope_not_received_by_a_node_has_age_zero() -> None:
    from bus.framing import decode, encode

    frames = encode("asr.text", _text(1), source="a", instance=1, seq=1, ts_ns=5)
    assert decode(frames).age_ms == 0.0


def test_the_tick_keeps_its_deadlines_between_the_messages_of_a_flood() -> None:
    clock = Clock(step_ns=MS)  # every reading is 1 ms later: the flood takes time
    bus = MemoryBus(clock=clock)
    src, worker = bus.node("src"), bus.node("worker")
    worker.subscribe("asr.text")
    for i in range(200):
        src.publish("asr.text", _text(i))
    events = list(worker.events(tick_s=0.010))
    ticks = [e for e in events if isinstance(e, Tick)]
    last_msg = max(i for i, e in enumerate(events) if isinstance(e, Envelope))
    assert len([e for e in events if isinstance(e, Envelope)]) == 200
    assert ticks and events.index(ticks[0]) < last_msg, "a tick waited for the flood to end"
    deadlines = [t.deadline_ns for t in ticks]
    assert all(b - a == 10 * MS for a, b in itertools.pairwise(deadlines))
    assert all(0 <= t.late_ms < 10 for t in ticks)


def test_a_message_is_not_held_back_by_a_distant_tick() -> None:
    clock = Clock()
    bus = MemoryBus(clock=clock)
    src, worker = bus.node("src"), bus.node("worker")
    worker.subscribe("asr.text")
    loop = worker.events(tick_s=60.0)
    src.publish("asr.text", _text(1))
    assert [type(e) for e in loop] == [Envelope]


def test_late_ticks_are_not_made_up_in_a_burst_and_the_schedule_survives_a_quiet_loop() -> None:
    clock = Clock()
    bus = MemoryBus(clock=clock)
    worker = bus.node("worker")
    loop = worker.events(tick_s=0.010)
    start = clock.now_ns
    assert list(loop) == []  # nothing due yet: a memory loop ends when idle
    clock.now_ns = start + 105 * MS  # ten periods passed while the worker was busy
    (tick,) = list(loop)
    assert isinstance(tick, Tick)
    assert tick.deadline_ns == start + 10 * MS and tick.late_ms == 95.0
    clock.now_ns += 10 * MS - 1
    assert list(loop) == []  # the next one is a full period after the late one
    clock.now_ns += 1
    assert [type(e) for e in loop] == [Tick]


def test_the_tick_period_can_be_changed_or_stopped_between_events() -> None:
    clock = Clock()
    bus = MemoryBus(clock=clock)
    loop = bus.node("worker").events(tick_s=1.0)
    loop.tick_s = 0.001
    clock.now_ns += MS
    assert [type(e) for e in loop] == [Tick]
    loop.tick_s = None
    clock.now_ns += 10**12
    assert list(loop) == [] and loop.tick_s is None
    with pytest.raises(ValueError, match="positive"):
        loop.tick_s = 0


def test_skip_own_drops_the_node_s_own_messages_only() -> None:
    bus = MemoryBus()
    other, worker = bus.node("other"), bus.node("worker")
    worker.subscribe("asr.*")
    worker.publish("asr.text", _text(1))
    other.publish("asr.text", _text(2))
    assert [m.source for m in worker.events(skip_own=True)] == ["other"]
    worker.publish("asr.text", _text(3))
    assert [m.source for m in worker.events()] == ["worker"]


def test_a_watched_descriptor_is_an_event_while_it_is_readable() -> None:
    r, w = os.pipe()
    try:
        bus = MemoryBus()
        worker = bus.node("worker")
        os.write(w, b"xy")
        seen = []
        for event in worker.events(watch=[r]):
            assert isinstance(event, Readable)
            seen.append(os.read(r, 1))  # level-triggered: one byte per event
        assert seen == [b"x", b"y"]
    finally:
        os.close(r)
        os.close(w)


def test_a_wakeup_set_by_another_thread_wakes_the_loop_with_the_object_given() -> None:
    bus = MemoryBus()
    worker = bus.node("worker")
    wake = Wakeup()
    try:

        def twice() -> None:
            wake.set()
            wake.set()

        t = threading.Thread(target=twice)
        t.start()
        t.join()
        events = []
        for event in worker.events(watch=[wake]):
            assert isinstance(event, Readable) and event.source is wake
            events.append(wake.clear())
        assert events == [2]  # two sets, one event: the counter absorbs both
        assert wake.clear() == 0
    finally:
        wake.close()


def test_messages_and_descriptors_are_both_served() -> None:
    wake = Wakeup()
    try:
        bus = MemoryBus()
        src, worker = bus.node("src"), bus.node("worker")
        worker.subscribe("asr.text")
        for i in range(3):
            src.publish("asr.text", _text(i))
        wake.set()
        kinds = []
        for event in worker.events(watch=[wake]):
            if isinstance(event, Readable):
                wake.clear()
            kinds.append(type(event).__name__)
        assert sorted(kinds) == ["Envelope", "Envelope", "Envelope", "Readable"]
        assert kinds[0] == "Readable"  # a flood of messages does not starve the descriptor
    finally:
        wake.close()


def test_watching_something_without_a_descriptor_is_refused() -> None:
    with pytest.raises(ValueError, match="no open file descriptor"):
        MemoryBus().node("w").events(watch=[-1])


def test_the_loop_ends_when_a_stop_is_requested() -> None:
    bus = MemoryBus()
    src, worker = bus.node("src"), bus.node("worker")
    worker.subscribe("asr.text")
    for i in range(5):
        src.publish("asr.text", _text(i))
    got = []
    for msg in worker.events():
        got.append(msg)
        worker.request_stop()
    assert len(got) == 1 and not worker.running


def test_iterating_the_node_is_the_loop_without_a_tick() -> None:
    bus = MemoryBus()
    src, worker = bus.node("src"), bus.node("worker")
    worker.subscribe("asr.text")
    src.publish("asr.text", _text(1))
    msgs = list(worker)
    assert len(msgs) == 1 and msgs[0].recv_ns > 0


def test_a_descriptor_left_readable_does_not_starve_the_messages() -> None:
    r, w = os.pipe()
    try:
        bus = MemoryBus()
        src, worker = bus.node("src"), bus.node("worker")
        worker.subscribe("asr.text")
        for i in range(3):
            src.publish("asr.text", _text(i))
        os.write(w, b"x")  # never read: readable for good
        messages = 0
        for event in worker.events(watch=[r]):
            if isinstance(event, Envelope):
                messages += 1
                if messages == 3:
                    break
        assert messages == 3
    finally:
        os.close(r)
        os.close(w)


def test_a_memory_loop_with_a_sleeping_clock_ticks_through_simulated_time() -> None:
    clock = Clock()
    bus = MemoryBus(clock=clock, sleep=clock.sleep)
    start = clock.now_ns
    clock.run_for(1.0)
    ticks = [e for e in bus.node("worker").events(tick_s=0.1) if isinstance(e, Tick)]
    assert [t.deadline_ns - start for t in ticks] == [k * 100 * MS for k in range(1, 11)]
    assert all(t.late_ms == 0 for t in ticks) and clock.now_ns == start + 1000 * MS
