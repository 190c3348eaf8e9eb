"""The supervisor's configuration: YAML parsed once into frozen models.

    heartbeat_ms: 500
    bus:
      mode: ipc                      # or tcp (then curve: is required)
    workers:
      source:
        module: workers.wavsource
        cpus: little
        settings: {files: [tests/data/hello.wav]}
      echo:
        module: workers.echo
        depends_on: [source]
        restart: {policy: always, max_restarts: 5, window_s: 60}
    external:                        # on the bus, started by no supervisor (a test, a replay)
      probe: {kind: source, produces: [asr.text]}

Every model forbids unknown keys, so a typo fails with its dotted path
(``workers.echo.modul: unknown key``). Each default is written once, on its field. Relative paths
(CURVE key files, peers, ``cwd``, a ``command`` containing a slash) are relative to the project
root, the directory of ``supervisor.py``. The models of one worker entry are in
:mod:`supervision.workerspec`, those of the ``bus:`` section in :mod:`supervision.bussection`;
what the manifests add (settings, dataflow) is checked by :mod:`supervision.dataflow`. The
reference is ``docs/supervisor.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from bus.nodeconfig import NodeConfig
from supervision.bussection import BusSection, CurveKeys
from supervision.errors import ConfigError
from supervision.workerspec import NAME, Declaration, RestartPolicy, WorkerName, WorkerSpec

__all__ = [
    "PROJECT_ROOT",
    "RESERVED_NAMES",
    "BusSection",
    "CurveKeys",
    "Declaration",
    "RestartPolicy",
    "SupervisorConfig",
    "WorkerSpec",
    "cross_check",
    "load_config",
    "parse_config",
    "parse_workers",
    "read_config",
]

#: The repository root: default working directory of workers and base of relative paths.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Names a worker cannot take (the supervisor's own node and the proxy).
RESERVED_NAMES = frozenset({"supervisor", "proxy"})
#: Validation context that leaves the cross-checks to the caller (``supervisor.py check``
#: reports them together with the problems the manifests find).
DEFER_CHECKS = {"defer_checks": True}


class SupervisorConfig(BaseModel):
    """The whole file."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    heartbeat_ms: int = Field(default=NodeConfig.model_fields["heartbeat_ms"].default, ge=10)
    """Heartbeat period of every node, ms."""
    bus: BusSection = BusSection()
    """Where the bus lives."""
    workers: dict[WorkerName, WorkerSpec] = {}
    """Worker name -> spec, started in dependency order."""
    external: dict[WorkerName, Declaration] = {}
    """Name -> declared dataflow of something on this bus that no supervisor starts (a test
    publishing by hand, a replay, a program run by hand); only the dataflow check uses it."""

    @model_validator(mode="after")
    def _check_graph(self, info: ValidationInfo) -> SupervisorConfig:
        if not (info.context or {}).get("defer_checks"):
            problems = cross_check(self.workers, set(), self.heartbeat_ms, set(self.external))
            if problems:
                raise ValueError("; ".join(problems))
        return self


def cross_check(
    workers: dict[str, WorkerSpec],
    existing: set[str],
    heartbeat_ms: int,
    external: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[str]:
    """Names, dependencies and timeouts of ``workers`` (added beside ``existing`` ones): one
    ``path: problem`` line each, every problem at once."""
    problems: list[str] = []
    known = existing | set(workers)
    for name in sorted(external & known):
        problems.append(f"external.{name}: a worker of this config has that name; rename one")
    for name, spec in workers.items():
        if name in RESERVED_NAMES:
            problems.append(f"workers.{name}: the name {name!r} is reserved; pick another")
        for dep in spec.depends_on:
            if dep not in known:
                problems.append(
                    f"workers.{name}.depends_on: no worker named {dep!r} "
                    f"(known: {', '.join(sorted(known)) or 'none'})"
                )
        if spec.heartbeat_timeout_s * 1000 < 2 * heartbeat_ms:
            problems.append(
                f"workers.{name}.heartbeat_timeout_s: {spec.heartbeat_timeout_s} s is shorter than "
                f"two heartbeats ({2 * heartbeat_ms} ms); raise it or lower heartbeat_ms"
            )
    try:
        order_by_dependencies(workers)
    except ValueError as exc:
        problems.append(str(exc))
    return problems


def order_by_dependencies(workers: dict[str, WorkerSpec]) -> list[str]:
    """Names so that each comes after its dependencies (config order otherwise)."""
    done: list[str] = []
    visiting: list[str] = []

    def visit(name: str) -> None:
        if name in done or name not in workers:
            return
        if name in visiting:
            cycle = " -> ".join([*visiting[visiting.index(name) :], name])
            raise ValueError(f"workers.{name}.depends_on: dependency cycle {cycle}")
        visiting.append(name)
        for dep in workers[name].depends_on:
            visit(dep)
        visiting.pop()
        done.append(name)

    for name in workers:
        visit(name)
    return done


def _read_yaml(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where} is not valid YAML: {exc}") from exc


def parse_config(
    data: Any, where: str = "config", *, defer_checks: bool = False
) -> SupervisorConfig:
    """Validate a parsed document; raise :class:`ConfigError` naming every bad key.

    ``defer_checks`` leaves names, dependencies and timeouts to :func:`cross_check`.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping with 'bus', 'heartbeat_ms' and 'workers'.")
    try:
        return SupervisorConfig.model_validate(data, context=DEFER_CHECKS if defer_checks else None)
    except ValidationError as exc:
        raise ConfigError(f"Invalid {where}: {format_validation(exc)}") from exc


def read_config(path: Path, *, defer_checks: bool = False) -> SupervisorConfig:
    """Read and validate a config file (its keys and values; the manifests are not read)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"Cannot read config {path}: {exc.strerror}.") from exc
    return parse_config(_read_yaml(text, str(path)), str(path), defer_checks=defer_checks)


def load_config(path: Path) -> SupervisorConfig:
    """Read and validate a config file, without its manifests (see :func:`read_config`)."""
    return read_config(path)


def parse_workers(
    text: str, existing: set[str], heartbeat_ms: int, where: str = "worker snippet"
) -> dict[str, WorkerSpec]:
    """Worker specs from a YAML snippet ``NAME: {module: ...}`` to add beside ``existing``."""
    data = _read_yaml(text, where)
    if isinstance(data, dict) and set(data) == {"workers"}:
        data = data["workers"]
    if not isinstance(data, dict) or not data:
        raise ConfigError(
            f"{where} must map worker names to specs, e.g. 'echo: {{module: workers.echo}}'."
        )
    specs: dict[str, WorkerSpec] = {}
    for name, spec in data.items():
        try:
            specs[NAME.validate_python(name)] = WorkerSpec.model_validate(spec or {})
        except ValidationError as exc:
            where_key = f"workers.{name}"
            raise ConfigError(f"Invalid {where}: {format_validation(exc, where_key)}") from exc
    clash = sorted(set(specs) & existing)
    if clash:
        raise ConfigError(f"Invalid {where}: a worker named {clash[0]!r} already exists.")
    problems = cross_check(specs, existing, heartbeat_ms)
    if problems:
        raise ConfigError(f"Invalid {where}: {'; '.join(problems)}.")
    return specs


def format_validation(exc: ValidationError, root: str = "") -> str:
    """The lines of :func:`validation_lines` joined with ``; ``."""
    return "; ".join(validation_lines(exc, root))


def validation_lines(exc: ValidationError, root: str = "") -> list[str]:
    """One ``dotted.path: message`` line per error of ``exc`` (as
    :func:`bus.nodeconfig.format_errors` writes them)."""
    lines = []
    for err in exc.errors():
        path = ".".join(str(p) for p in (root, *err["loc"]) if p != "")
        msg = "unknown key (check its spelling)" if err["type"] == "extra_forbidden" else err["msg"]
        if msg.startswith("Value error, "):
            # Our own validators' sentences; at the top they carry their paths themselves.
            msg = msg.removeprefix("Value error, ")
            lines.append(f"{path}: {msg}" if path else msg)
        else:
            lines.append(f"{path or '(top)'}: {msg}")
    return lines


def resolve_path(path: Path) -> Path:
    """``path`` made absolute against the project root."""
    return path if path.is_absolute() else PROJECT_ROOT / path
