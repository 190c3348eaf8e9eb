"""The bus watch: when a restart of the proxy is announced (a fake proxy child, no process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervision.buslayout import BusLayout
from supervision.bussection import BusSection
from supervision.buswatch import ANNOUNCE_WAIT_S, RESUBSCRIBE_S, BusWatch


class FakeChild:
    """What the bus watch uses of a proxy process (and of its spare)."""

    def __init__(self, pid: int, started_at: float = 0.0) -> None:
        self.pid = pid
        self.started_at = started_at
        self.exit_code: int | None = None

    def poll(self) -> int | None:
        return self.exit_code

    def go(self, env: dict[str, str]) -> None:
        self.started_at = 10.0


def restarted(tmp_path: Path, *, at: float = 10.0, back_at: float = 10.05) -> BusWatch:
    """A watch whose proxy (pid 10) was killed at ``at``; its spare (pid 11) forwards from
    ``back_at``."""
    layout = BusLayout.from_config(BusSection(runtime_dir=tmp_path))
    watch = BusWatch(layout, heartbeat_s=0.2, spare=False)
    old, spare = FakeChild(10), FakeChild(11)
    watch.proxy, watch.spare = old, spare  # type: ignore[assignment]
    old.exit_code = -9
    assert watch.check(at)  # down, and handed over to the spare
    assert watch.proxy is spare
    watch.traffic(back_at)  # the first message through the new proxy
    return watch


def test_a_restart_is_not_announced_before_every_subscriber_had_its_turn_to_subscribe_again(
    tmp_path: Path,
) -> None:
    # Every worker beat again at once, but a tap (which never beats) or a worker's own SUB
    # socket may reconnect at its next try, up to twice libzmq's reconnect interval later:
    # announced sooner, the events would be lost to them.
    watch = restarted(tmp_path)
    watch.heard("relay")
    assert watch.announcement({"relay"}, 10.06) is None
    assert watch.announcement({"relay"}, 10.05 + RESUBSCRIBE_S - 0.01) is None
    r = watch.announcement({"relay"}, 10.05 + RESUBSCRIBE_S)
    assert r is not None and (r.old_pid, r.exit_code) == (10, -9)
    assert r.down_s == pytest.approx(0.05)
    assert watch.announcement({"relay"}, 20.0) is None  # once


def test_a_restart_waits_for_every_ready_worker_then_at_most_the_announce_wait(
    tmp_path: Path,
) -> None:
    watch = restarted(tmp_path)
    watch.heard("relay")
    after = 10.05 + RESUBSCRIBE_S + 0.01
    assert watch.announcement({"relay", "dialog"}, after) is None  # the dialog not heard yet
    assert watch.announcement({"relay", "dialog"}, 10.05 + ANNOUNCE_WAIT_S - 0.01) is None
    assert watch.announcement({"relay", "dialog"}, 10.05 + ANNOUNCE_WAIT_S) is not None
