"""Every config in ``configs/`` is loaded, started for a few seconds and stopped cleanly.

A config that can only run on the board says so in a comment line of its own, with the reason::

    # smoke: validate-only (needs the RK3588 NPU and librkllmrt.so)

Such a config is validated (keys, dependencies, and CPU sets against an RK3588 described by
fixture files) but not started; the skip message carries the reason. A WAV file that a
``wavsource`` of the config plays and that does not exist yet (``configs/host.yaml`` plays the
conversation ``python -m demo`` speaks first) is stood in for by ``configs/data/demo.wav``
for the duration of the test.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from supervision.config import PROJECT_ROOT, SupervisorConfig, load_config
from supervision.topology import Topology
from tests.supervision.harness import SupervisorProc

CONFIGS = sorted((PROJECT_ROOT / "configs").glob("*.yaml"))
RK3588 = Path(__file__).parent / "supervision" / "fixtures" / "rk3588"
_VALIDATE_ONLY = re.compile(r"^#\s*smoke:\s*validate-only\s*\((.+)\)\s*$", re.M)
#: How long every worker may take to report ready (model loads on a busy 2-core machine), s.
READY_TIMEOUT_S = 180.0
#: How long the whole pipeline then runs before it is stopped, s.
RUN_S = 3.0


@pytest.mark.slow
@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_starts_runs_and_stops_cleanly(path: Path) -> None:
    config = load_config(path)
    validate_only = _VALIDATE_ONLY.search(path.read_text())
    if validate_only:
        board = Topology.probe(RK3588 / "sys", RK3588 / "proc")
        for name, spec in config.workers.items():
            board.resolve(spec.cpus, f"{path.name}: workers.{name}.cpus")
        pytest.skip(f"{path.name} validated, not started: {validate_only.group(1)}")
    here = Topology.probe()
    for name, spec in config.workers.items():
        here.resolve(spec.cpus, f"{path.name}: workers.{name}.cpus")
    autostart = {name for name, spec in config.workers.items() if spec.autostart}
    with stand_in_wavs(config), SupervisorProc(path.read_text()) as sup:
        sup.wait(
            lambda: all(r["state"] == "ready" for r in sup.status() if r["name"] in autostart),
            f"every worker of {path.name} to be ready",
            READY_TIMEOUT_S,
        )
        time.sleep(RUN_S)
        rows = {r["name"]: r for r in sup.status()}
        for name in autostart:
            assert rows[name]["state"] == "ready", f"{name}: {rows[name]}\n{sup.log()}"
            assert rows[name]["restarts"] == 0, f"{name} was restarted\n{sup.log()}"


@contextmanager
def stand_in_wavs(config: SupervisorConfig) -> Iterator[None]:
    """Copy the demo WAV to every missing input file of a ``wavsource``; remove them after."""
    made: list[Path] = []
    try:
        for spec in config.workers.values():
            if spec.module == "workers.wavsource":
                for f in spec.settings.get("files", []):
                    target = Path(f) if Path(f).is_absolute() else PROJECT_ROOT / f
                    if not target.exists():
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(PROJECT_ROOT / "configs" / "data" / "demo.wav", target)
                        made.append(target)
        yield
    finally:
        for target in made:
            target.unlink(missing_ok=True)


def test_there_is_a_demo_config() -> None:
    assert PROJECT_ROOT / "configs" / "demo.yaml" in CONFIGS
