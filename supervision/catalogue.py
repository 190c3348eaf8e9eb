"""Every manifest this repository ships: the workers under ``workers/``, the examples under
``examples/``, the supervisor itself and the taps that read particular topics.

The topic table of ``docs/protocol.md`` is drawn from it, and ``supervisor.py check`` uses it
for its hints (which worker would produce a topic that nothing in a config produces).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from bus.manifest import Manifest
from schemas.dialog import TurnMetrics
from schemas.system import Heartbeat, LifecycleEvent, Metric
from supervision.config import PROJECT_ROOT, resolve_path
from supervision.manifests import manifest_of
from supervision.workerspec import WorkerSpec

__all__ = ["SUPERVISOR", "TAPS", "Entry", "examples", "in_tree", "shipped"]

#: The supervisor's own node: it reads every heartbeat and announces lifecycle events.
SUPERVISOR = Manifest(
    kind="sink",
    summary="Starts, watches and restarts the workers; announces what happens to them.",
    consumes={"sys.heartbeat": Heartbeat},
    produces={"sys.lifecycle": LifecycleEvent},
)

#: The taps that interpret particular topics (``bus/taps/``); every tap also counts (and
#: ``tap``/``record`` show or save) whatever topics it is given, ``*`` by default.
TAPS: dict[str, Manifest] = {
    "top": Manifest(
        kind="sink",
        summary="Worker health, topic rates and the last turns' latency breakdown.",
        consumes={
            "sys.heartbeat": Heartbeat,
            "sys.lifecycle": LifecycleEvent,
            "dialog.turn": TurnMetrics,
        },
    ),
    "metrics": Manifest(
        kind="sink",
        summary="Prometheus exporter of the metrics and turn latencies.",
        consumes={"sys.metric": Metric, "dialog.turn": TurnMetrics},
    ),
}


@dataclass(frozen=True)
class Entry:
    """One shipped worker and its manifest."""

    name: str
    """The worker's usual name (its package, or the name in its example's ``worker.yaml``)."""
    where: str
    """``workers.vad``, or ``examples/state_led`` for an example."""
    manifest: Manifest


@cache
def in_tree() -> tuple[Entry, ...]:
    """The manifest of every package under ``workers/`` (the name of the package)."""
    out = []
    for path in sorted((PROJECT_ROOT / "workers").glob("*/manifest.py")):
        name = path.parent.name
        spec = WorkerSpec(module=f"workers.{name}")
        out.append(Entry(name, f"workers.{name}", manifest_of(spec, None)))
    return tuple(out)


@cache
def examples() -> tuple[Entry, ...]:
    """The manifest of every worker in an ``examples/*/worker.yaml``."""
    out = []
    for path in sorted((PROJECT_ROOT / "examples").glob("*/worker.yaml")):
        for name, raw in (yaml.safe_load(path.read_text()) or {}).items():
            spec = WorkerSpec.model_validate(raw)
            cwd = resolve_path(spec.cwd) if spec.cwd else None
            where = str(Path(path.parent).relative_to(PROJECT_ROOT))
            out.append(Entry(name, where, manifest_of(spec, cwd)))
    return tuple(out)


def shipped() -> tuple[Entry, ...]:
    """:func:`in_tree` then :func:`examples`."""
    return in_tree() + examples()
