"""bench.supervisor's per-worker part: the pipeline it derives and how a restart is split."""

from __future__ import annotations

from pathlib import Path

from bench.supervisorworkers import KEYS, _derive, _summary
from supervision.config import parse_config

ROOT = Path(__file__).resolve().parents[2]


def test_the_derived_pipeline_runs_every_module_worker_fresh_or_with_a_spare(tmp_path: Path):
    for standby in (False, True):
        cfg = _derive(ROOT / "configs/host.yaml", tmp_path, standby, "/dev/shm/vb-test-x")
        parse_config(cfg)  # a valid config
        modules = {n: w for n, w in cfg["workers"].items() if w.get("module")}
        assert "wavsource" not in cfg["workers"] and "dialog" in modules
        assert all(w["standby"] is standby for w in modules.values())
        assert all(w["restart"]["max_restarts"] == 1000 for w in modules.values())
        assert "standby" not in cfg["workers"]["rtapp"]  # a command has no spare


def test_a_restart_splits_into_its_parts_and_the_target_leaves_out_the_model():
    samples = [
        {"exit_seen": 10.0, "backoff": 50.0, "start": 30.0, "load": 300.0, "total": 390.0,
         "total_no_load": 90.0},
        {"exit_seen": 20.0, "backoff": 55.0, "start": 40.0, "load": 310.0, "total": 425.0,
         "total_no_load": 115.0},
    ]  # fmt: skip
    s = _summary(samples)
    assert set(KEYS) <= set(s) and s["n"] == 2
    assert s["total_no_load"] == {"median": 102.5, "min": 90.0, "max": 115.0}
