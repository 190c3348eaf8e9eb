"""The dataflow of a config, checked against the manifests before anything starts.

:func:`inspect_file` (``python supervisor.py check CONFIG``, and ``run`` before it starts
anything) reads a config and reports every problem at once, each with its dotted path: an
unknown key or a bad value, a worker's settings that its manifest's settings model refuses
(``workers.vad.settings.hangover_ms: ...``), a worker with no manifest, ``depends_on`` naming no
worker, and the wiring problems of :mod:`supervision.busgraph` (a consumed topic nothing
produces; as a warning, a produced topic nothing reads).

The bus seen from one config holds its workers, the supervisor itself, the workers of its
``bus.peers`` (other boards' configs: context only, their settings are their own config's
business) and its ``external:`` declarations. The result is also what ``graph`` draws.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bus.errors import ConfigError as AnyConfigError
from bus.manifest import Manifest
from supervision import catalogue
from supervision.busgraph import Dataflow, Node, Origin, join
from supervision.config import (
    SupervisorConfig,
    cross_check,
    read_config,
    resolve_path,
    validation_lines,
)
from supervision.errors import ConfigError
from supervision.manifests import declared_manifest, manifest_of
from supervision.workerspec import Declaration, WorkerSpec

__all__ = ["Dataflow", "Node", "analyse", "inspect_file"]


def inspect_file(path: Path, where: str | None = None) -> Dataflow:
    """Read ``path`` and check it with its manifests; every problem is in the result (named
    ``where``, the path by default)."""
    where = str(path) if where is None else where
    try:
        cfg = read_config(path, defer_checks=True)
    except ConfigError as exc:
        cause = exc.__cause__
        lines = validation_lines(cause) if isinstance(cause, ValidationError) else [str(exc)]
        return Dataflow(where, errors=lines)
    return analyse(cfg, where)


def _settings(manifest: Manifest, spec: WorkerSpec, path: str, df: Dataflow) -> Any:
    if manifest.settings is None:
        if spec.settings and isinstance(spec.manifest, Declaration):
            df.warnings.append(f"{path}.settings: not checked (a declared dataflow has no model)")
        elif spec.settings:
            df.errors.append(
                f"{path}.settings: this worker takes no settings (its manifest has no settings "
                "model); remove them"
            )
        return None
    try:
        return manifest.settings.model_validate(spec.settings)
    except ValidationError as exc:
        df.errors.extend(validation_lines(exc, f"{path}.settings"))
        return None


def _node(
    name: str, spec: WorkerSpec, origin: Origin, path: str, df: Dataflow, strict: bool
) -> Node:
    """The node of one worker entry (problems into ``df``; a placeholder if its manifest fails)."""
    cwd = resolve_path(spec.cwd) if spec.cwd is not None else None
    program = spec.module or spec.command or ""
    try:
        manifest = manifest_of(spec, cwd)
    except AnyConfigError as exc:
        if strict:
            df.errors.append(f"{path}.manifest: {exc}")
        return Node(name, origin, "stage", "(no manifest)", program, path=path)
    settings = _settings(manifest, spec, path, df) if strict else _quiet_settings(manifest, spec)
    consumes, produces = manifest.consumes, manifest.produces
    if manifest.topics is not None and settings is not None:
        try:
            consumes, produces = manifest.resolve(settings)
        except AnyConfigError as exc:
            if strict:
                df.errors.append(f"{path}.settings: {exc}")
    link = spec.manifest.link if isinstance(spec.manifest, Declaration) else None
    return Node(
        name,
        origin,
        manifest.kind,
        manifest.summary,
        program,
        tuple(consumes),
        tuple(produces),
        implicit=spec.module is not None,
        bridge=manifest.bridge,
        link=link,
        path=path,
    )


def _quiet_settings(manifest: Manifest, spec: WorkerSpec) -> Any:
    if manifest.settings is None:
        return None
    try:
        return manifest.settings.model_validate(spec.settings)
    except ValidationError:
        return None  # reported by the check of the config it belongs to


def _peers(cfg: SupervisorConfig, df: Dataflow) -> None:
    for i, peer_path in enumerate(cfg.bus.peers):
        where = f"bus.peers[{i}]"
        try:
            peer = read_config(resolve_path(peer_path), defer_checks=True)
        except ConfigError as exc:
            df.errors.append(f"{where}: {exc}")
            continue
        for name, spec in peer.workers.items():
            if name in df.nodes:
                df.errors.append(
                    f"{where}: {peer_path} also has a worker named {name!r}; names must be unique "
                    "on one bus (heartbeats and lifecycle events are by name)"
                )
                continue
            node = _node(name, spec, "peer", f"{peer_path}: workers.{name}", df, strict=False)
            df.nodes[name] = node


def _external(cfg: SupervisorConfig, df: Dataflow) -> None:
    for name, decl in cfg.external.items():
        path = f"external.{name}"
        if decl.link is not None:
            df.errors.append(f"{path}.link: only a worker of the config can be linked; remove it")
        try:
            m = declared_manifest(decl)
        except AnyConfigError as exc:
            df.errors.append(f"{path}: {exc}")
            continue
        consumes, produces = tuple(m.consumes), tuple(m.produces)
        node = Node(name, "external", m.kind, m.summary, "", consumes, produces, path=path)
        df.nodes.setdefault(name, node)


def analyse(
    cfg: SupervisorConfig, where: str = "config", *, adding: dict[str, WorkerSpec] | None = None
) -> Dataflow:
    """Check ``cfg`` (or, with ``adding``, the workers being added to it at run time: a topic
    that nothing produces is then only a warning, since producers can attach later)."""
    df = Dataflow(where, cfg)
    new = adding if adding is not None else cfg.workers
    existing = set(cfg.workers) if adding is not None else set()
    df.errors.extend(cross_check(new, existing, cfg.heartbeat_ms, set(cfg.external)))
    df.nodes["supervisor"] = Node(
        "supervisor",
        "supervisor",
        catalogue.SUPERVISOR.kind,
        catalogue.SUPERVISOR.summary,
        "supervisor.py",
        tuple(catalogue.SUPERVISOR.consumes),
        tuple(catalogue.SUPERVISOR.produces),
        implicit=True,
    )
    for name, spec in {**cfg.workers, **(adding or {})}.items():
        strict = name in new
        origin: Origin = "worker" if strict else "peer"  # a running worker: context only
        df.nodes[name] = _node(name, spec, origin, f"workers.{name}", df, strict)
    _peers(cfg, df)
    _external(cfg, df)
    join(df, "warning" if adding is not None else "error")
    return df
