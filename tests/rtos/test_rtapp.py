"""The RT app (rtos/build/rtapp) as a real process against the gateway logic."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas.rtos import RtosAck, RtosCommand
from tests.rtos.harness import RTAPP_CMD, Rig
from workers.rtgw import layout, messages

pytestmark = pytest.mark.slow


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    r.wait_up()
    yield r
    r.close()


def test_drive_starts_moves_the_odometry_and_completes(rig: Rig) -> None:
    rig.submit("turn-1", cmd_id=1, kind="drive", linear_mps=0.3, duration_ms=300)
    assert rig.run_until(lambda: "done" in rig.statuses(1))
    assert rig.statuses(1) == ["accepted", "started", "done"]
    assert [a.by for a in rig.acks(1)] == ["gateway", "rtos", "rtos"]
    assert {tr for t, p, tr in rig.out if t == "rtos.ack"} == {"turn-1"}
    rig.run(0.15)
    last = rig.telemetry()[-1]
    assert last.state == "idle" and last.linear_mps == 0
    assert last.x_m == pytest.approx(0.09, abs=0.004)  # 0.3 m/s for 0.3 s


def test_turn_reaches_its_angle(rig: Rig) -> None:
    rig.submit(cmd_id=2, kind="turn", angle_deg=30, angular_dps=90)
    assert rig.run_until(lambda: "done" in rig.statuses(2))
    rig.run(0.15)
    assert rig.telemetry()[-1].heading_deg == pytest.approx(30, abs=0.5)


def test_stop_ends_a_drive_and_estop_latches_until_reset(rig: Rig) -> None:
    rig.submit(cmd_id=3, kind="drive", linear_mps=0.2, duration_ms=5000)
    assert rig.run_until(lambda: "started" in rig.statuses(3))
    rig.submit(cmd_id=4, kind="estop")
    assert rig.run_until(lambda: "done" in rig.statuses(4))
    assert rig.statuses(3)[-1] == "failed"
    rig.submit(cmd_id=5, kind="drive", linear_mps=0.2, duration_ms=100)
    assert rig.run_until(lambda: "rejected" in rig.statuses(5))
    assert "reset" in rig.acks(5, by="rtos")[0].reason
    rig.submit(cmd_id=6, kind="reset")
    assert rig.run_until(lambda: "done" in rig.statuses(6))
    rig.submit(cmd_id=7, kind="drive", linear_mps=0.2, duration_ms=100)
    assert rig.run_until(lambda: "done" in rig.statuses(7))


def test_rt_clamps_a_setpoint_beyond_its_own_limits(tmp_path: Path) -> None:
    r = Rig(tmp_path, ("--max-linear-mps", "0.2"), max_linear_mps=1.0)
    try:
        r.wait_up()
        r.submit(cmd_id=10, kind="drive", linear_mps=0.8, duration_ms=300)
        assert r.run_until(lambda: "started" in r.statuses(10))
        started = r.acks(10, by="rtos")[0]
        assert "clamped" in started.reason
        assert r.run_until(lambda: any(t.linear_mps == 0.2 for t in r.telemetry()))
        assert all(t.linear_mps <= 0.2 for t in r.telemetry())
    finally:
        r.close()


def test_rt_rejects_a_duration_beyond_its_hard_limit(tmp_path: Path) -> None:
    r = Rig(tmp_path, ("--max-duration-ms", "1000"), max_duration_ms=5000)
    try:
        r.wait_up()
        r.submit(cmd_id=11, kind="drive", linear_mps=0.1, duration_ms=2000)
        assert r.run_until(lambda: "rejected" in r.statuses(11))
        assert "hard limits" in r.acks(11, by="rtos")[0].reason
    finally:
        r.close()


def test_rt_expires_a_command_whose_ttl_ran_out(rig: Rig) -> None:
    cmd = RtosCommand(cmd_id=12, kind="drive", linear_mps=0.1, duration_ms=500, ttl_ms=50)
    rtype, flags, payload = messages.encode_command(cmd, age_ms=60)  # queued too long
    assert rig.gw.ep.send(rtype, payload, flags) >= 0  # bypasses the gateway's own TTL check
    assert rig.run_until(lambda: bool(rig.statuses(12)))
    ack = rig.acks(12)[0]
    assert (ack.status, ack.by) == ("expired", "rtos")
    assert all(t.active_cmd_id != 12 for t in rig.telemetry())


def test_a_hold_setpoint_stops_when_its_ttl_ends(rig: Rig) -> None:
    rig.submit(cmd_id=13, kind="drive", linear_mps=0.2, duration_ms=0, ttl_ms=200)
    assert rig.run_until(lambda: "done" in rig.statuses(13))
    rig.run(0.15)
    assert rig.telemetry()[-1].linear_mps == 0


def test_linux_heartbeat_loss_stops_the_motors_then_recovers(rig: Rig) -> None:
    rig.submit(cmd_id=20, kind="drive", linear_mps=0.2, duration_ms=5000)
    assert rig.run_until(lambda: "started" in rig.statuses(20))
    time.sleep(0.6)  # the gateway stalls (as under SIGSTOP): no heartbeat for 12 periods
    assert rig.run_until(lambda: "failed" in rig.statuses(20))
    assert "heartbeat" in rig.acks(20, by="rtos")[-1].reason
    rig.run(0.15)
    last = rig.telemetry()[-1]
    assert last.state == "stopped" and last.linear_mps == 0
    rig.submit(cmd_id=21, kind="drive", linear_mps=0.2, duration_ms=100)
    assert rig.run_until(lambda: "done" in rig.statuses(21))


def test_sigstop_of_rt_is_declared_dead_and_recovers_after_sigcont(rig: Rig) -> None:
    rig.signal_rt(signal.SIGSTOP)
    assert rig.run_until(lambda: "down" in rig.links(), timeout_s=2)
    rig.submit(cmd_id=30, kind="drive", linear_mps=0.1, duration_ms=100)
    assert rig.statuses(30) == ["rejected"]
    assert "offline" in rig.acks(30)[0].reason
    rig.signal_rt(signal.SIGCONT)
    assert rig.run_until(lambda: rig.links()[-1] == "up")
    rig.submit(cmd_id=31, kind="drive", linear_mps=0.1, duration_ms=100)
    assert rig.run_until(lambda: "done" in rig.statuses(31))


def test_kill9_of_rt_then_restart_gets_a_new_epoch_and_no_stale_command(rig: Rig) -> None:
    old_epoch = rig.gw.ep.peer_epoch
    rig.signal_rt(signal.SIGSTOP)
    rig.submit(cmd_id=40, kind="drive", linear_mps=0.2, duration_ms=3000)  # lands in the ring
    assert rig.statuses(40) == ["accepted"]
    rig.signal_rt(signal.SIGKILL)
    assert rig.rt is not None
    rig.rt.wait(timeout=5)
    assert rig.run_until(lambda: "down" in rig.links(), timeout_s=2)
    rig.start_rt()
    assert rig.run_until(lambda: "restarted" in rig.links())
    assert rig.run_until(lambda: rig.links()[-1] == "up")
    assert rig.gw.ep.peer_epoch not in (0, old_epoch)
    rig.run(0.4)
    assert rig.statuses(40) == ["accepted"]  # the new instance never saw it
    assert all(t.active_cmd_id != 40 and t.linear_mps == 0 for t in rig.telemetry())


def test_kill9_of_gateway_then_restart_drops_its_stale_command(rig: Rig) -> None:
    rig.signal_rt(signal.SIGSTOP)
    rig.submit(cmd_id=50, kind="drive", linear_mps=0.2, duration_ms=3000)
    assert rig.statuses(50) == ["accepted"]
    rig.gw = rig.new_gateway()  # the old worker vanished without a word; a new one starts
    rig.signal_rt(signal.SIGCONT)
    rig.out.clear()
    assert rig.run_until(lambda: rig.gw.online)
    rig.run(0.4)
    assert rig.statuses(50) == []
    assert rig.telemetry() and all(t.active_cmd_id != 50 for t in rig.telemetry())


def test_overflow_rejects_new_records_admits_stop_and_recovers(rig: Rig) -> None:
    rig.submit(cmd_id=60, kind="drive", linear_mps=0.2, duration_ms=5000)
    assert rig.run_until(lambda: "started" in rig.statuses(60))
    rig.signal_rt(signal.SIGSTOP)  # the consumer pauses
    ep = rig.gw.ep
    filled = 0
    while ep.send(0x7F20, bytes(200)) >= 0:
        filled += 1
    assert filled >= 40 and ep.stats()["tx_rejects"] == 1
    stop = RtosCommand(cmd_id=61, kind="stop")
    rtype, flags, payload = messages.encode_command(stop)
    assert flags & layout.FLAG_URGENT
    assert ep.send(rtype, payload, flags) >= 0  # the reserve takes it
    rig.signal_rt(signal.SIGCONT)
    assert rig.run_until(lambda: "done" in rig.statuses(61))
    assert rig.statuses(60)[-1] == "failed"
    assert ep.send(0x7F20, bytes(200)) >= 0
    assert rig.gw.metrics()["rtgw.tx_rejects"] == 1


def test_fuzzing_the_region_under_traffic_faults_cleanly_and_relinks(rig: Rig) -> None:
    rng = random.Random(7)
    buf = rig.region.buffer
    size = len(buf)
    end = time.monotonic() + 1.0
    cmd_id = 100
    while time.monotonic() < end:
        for _ in range(3):
            pos = rng.choice([rng.randrange(size), rng.randrange(0xC8)])
            if rng.random() < 0.5:
                pos = (pos + layout.block_size(16384)) % size
            buf[pos] ^= 1 << rng.randrange(8)
        cmd_id += 1
        rig.submit(cmd_id=cmd_id, kind="led", led_rgb=cmd_id & 0xFFFFFF)
        rig.run(0.01)
    assert rig.rt is not None and rig.rt.poll() is None  # the C side survived
    assert {"fault", "restarted"} & set(rig.links())  # damage was detected, not ignored
    rig.out.clear()
    assert rig.run_until(lambda: rig.gw.online and bool(rig.telemetry()))
    rig.submit(cmd_id=999, kind="drive", linear_mps=0.1, duration_ms=100)
    assert rig.run_until(lambda: "done" in rig.statuses(999))


def test_sigterm_stops_rt_cleanly_and_the_gateway_sees_it(rig: Rig) -> None:
    rig.signal_rt(signal.SIGTERM)
    assert rig.rt is not None
    assert rig.rt.wait(timeout=5) == 0
    assert rig.run_until(lambda: "down" in rig.links(), timeout_s=2)
    assert (
        int.from_bytes(
            rig.region.buffer[layout.block_size(16384) + layout.OFF_STATE :][:4], "little"
        )
        == layout.STATE_OFF
    )


def test_rtapp_refuses_bad_options_with_a_sentence() -> None:
    r = subprocess.run([*RTAPP_CMD, "--bogus", "1"], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown option --bogus" in r.stderr
    r = subprocess.run(RTAPP_CMD, capture_output=True, text=True)
    assert r.returncode == 2 and "--region PATH is required" in r.stderr


def test_a_distance_drive_stops_at_its_distance(rig: Rig) -> None:
    rig.submit(cmd_id=70, kind="drive", linear_mps=-0.5, distance_m=-0.05)
    assert rig.run_until(lambda: "done" in rig.statuses(70))
    rig.run(0.15)
    assert rig.telemetry()[-1].x_m == pytest.approx(-0.05, abs=0.002)


def test_a_distance_not_reached_in_the_rt_time_limit_fails(tmp_path: Path) -> None:
    r = Rig(tmp_path, ("--max-duration-ms", "200"))
    try:
        r.wait_up()
        r.submit(cmd_id=71, kind="drive", linear_mps=0.2, distance_m=1.0)
        assert r.run_until(lambda: "failed" in r.statuses(71))
        assert "time limit" in r.acks(71, by="rtos")[-1].reason
    finally:
        r.close()


def test_pings_measure_the_round_trip_through_the_rt_ipc_thread(rig: Rig) -> None:
    assert rig.run_until(lambda: "rtgw.ping_rtt_ms" in rig.gw.metrics(), timeout_s=3)
    assert rig.gw.metrics()["rtgw.ping_rtt_ms"] > 0


def test_a_flood_through_the_gateway_ends_every_command_in_one_final_ack(tmp_path: Path) -> None:
    """Issue 12 item 8, both sides at once: the real gateway and the real car app."""
    r = Rig(tmp_path, rate_per_s=100_000, burst=100_000, max_pending=64, max_duration_ms=2000)
    try:
        r.wait_up()
        kinds = ["led", "buzzer", "drive", "turn", "reset"]
        for cmd_id in range(1, 1501):
            kind = kinds[cmd_id % len(kinds)]
            fields: dict[str, Any] = {"cmd_id": cmd_id, "kind": kind, "ttl_ms": 200}
            if kind == "drive":
                fields.update(linear_mps=0.1, duration_ms=50)
            elif kind == "turn":
                fields.update(angle_deg=5, angular_dps=90)
            elif kind == "buzzer":
                fields.update(buzzer_hz=440, duration_ms=20)
            r.submit(**fields)
            if cmd_id % 50 == 0:
                r.run(0.005)
        assert r.run_until(lambda: r.gw.metrics()["rtgw.in_flight"] == 0, timeout_s=20)
        r.run(0.3)
        finals = {"done", "rejected", "expired", "failed"}
        ended = [a.cmd_id for _, a, _ in r.out if isinstance(a, RtosAck) and a.status in finals]
        assert sorted(ended) == list(range(1, 1501))  # each exactly once
        m = r.gw.metrics()
        assert m["rtgw.late_acks"] == 0 or m["rtgw.ack_timeouts"] + m["rtgw.acks_lost"] > 0
    finally:
        r.close()
