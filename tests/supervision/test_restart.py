"""Restart decisions: policies, doubling delays with a cap, the restart window."""

from __future__ import annotations

from supervision.config import RestartPolicy
from supervision.restart import RestartTracker


def test_delays_double_up_to_the_cap_then_the_window_gives_up() -> None:
    policy = RestartPolicy(
        policy="always", backoff_initial_s=0.5, backoff_max_s=3.0, max_restarts=5, window_s=100
    )
    tracker = RestartTracker(policy)
    decisions = [tracker.decide(failed=True, now=float(t)) for t in range(6)]
    assert [d.delay_s for d in decisions[:5]] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert all(d.restart for d in decisions[:5])
    last = decisions[5]
    assert (last.restart, last.gave_up) == (False, True)
    assert "gave up after 5 restarts in 100 s" in last.reason


def test_restarts_older_than_the_window_are_forgotten() -> None:
    tracker = RestartTracker(RestartPolicy(max_restarts=2, window_s=10, backoff_initial_s=1))
    assert tracker.decide(failed=True, now=0).delay_s == 1
    assert tracker.decide(failed=True, now=5).delay_s == 2
    assert tracker.decide(failed=True, now=9).gave_up
    later = tracker.decide(failed=True, now=30)  # a healthy run longer than the window
    assert later.restart and later.delay_s == 1


def test_policies() -> None:
    never = RestartTracker(RestartPolicy(policy="never"))
    assert not never.decide(failed=True, now=0).restart
    on_failure = RestartTracker(RestartPolicy(policy="on-failure"))
    clean = on_failure.decide(failed=False, now=0)
    assert not clean.restart and not clean.gave_up and "cleanly" in clean.reason
    assert on_failure.decide(failed=True, now=0).restart
    always = RestartTracker(RestartPolicy(policy="always"))
    assert always.decide(failed=False, now=0).restart


def test_reset_starts_a_fresh_window() -> None:
    tracker = RestartTracker(RestartPolicy(max_restarts=1))
    tracker.decide(failed=True, now=0)
    assert tracker.decide(failed=True, now=1).gave_up
    tracker.reset()
    assert tracker.decide(failed=True, now=2).restart
