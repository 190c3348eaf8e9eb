"""The supervisor's configuration: YAML parsed once into frozen models.

    heartbeat_ms: 500
    bus:
      mode: ipc                      # or tcp (then curve: is required)
    workers:
      source:
        module: workers.wavsource
        cpus: little
        settings: {path: tests/data/hello.wav}
      echo:
        module: workers.echo
        depends_on: [source]
        restart: {policy: always, max_restarts: 5, window_s: 60}

Every model forbids unknown keys, so a typo fails with its dotted path
(``workers.echo.modul: unknown key``). Each default is written once, on its field. Relative paths
(CURVE key files, ``cwd``, a ``command`` containing a slash) are relative to the project root,
the directory of ``supervisor.py``. The reference is ``docs/supervisor.md``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from bus.nodeconfig import NodeConfig, format_errors
from supervision.errors import ConfigError

__all__ = [
    "PROJECT_ROOT",
    "RESERVED_NAMES",
    "BusSection",
    "CurveKeys",
    "RestartPolicy",
    "SupervisorConfig",
    "WorkerSpec",
    "load_config",
    "parse_config",
    "parse_workers",
]

#: The repository root: default working directory of workers and base of relative paths.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Names a worker cannot take (the supervisor's own node and the proxy).
RESERVED_NAMES = frozenset({"supervisor", "proxy"})

WorkerName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")]
_NAME: TypeAdapter[str] = TypeAdapter(WorkerName)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class CurveKeys(_Model):
    """CURVE key files of a tcp bus (make them with ``python -m bus.curve keygen DIR NAME``)."""

    server_secret: Path
    """The proxy's ``.key_secret`` file."""
    server_public: Path
    """The proxy's public ``.key`` file (handed to local workers)."""
    clients_dir: Path
    """Directory of the public ``.key`` files of every admitted client."""
    client_secret: Path
    """``.key_secret`` used by the supervisor and its local workers (its ``.key`` must be in
    ``clients_dir``)."""


class BusSection(_Model):
    """Where the bus lives."""

    mode: Literal["ipc", "tcp"] = "ipc"
    """``ipc``: sockets in the runtime directory (one board); ``tcp``: across boards, CURVE only."""
    runtime_dir: Path | None = None
    """Private directory of sockets and ``bus.json``; ``$VOICEBUS_RUNTIME_DIR`` wins when set,
    else this, else ``$XDG_RUNTIME_DIR/voicebus`` or ``/tmp/voicebus-<uid>``."""
    host: str = "127.0.0.1"
    """tcp: address the proxy binds (``0.0.0.0`` for every interface)."""
    connect_host: str | None = None
    """tcp: address local workers connect to; ``host`` unless that is ``0.0.0.0``."""
    pub_port: int = Field(default=5550, ge=1, le=65535)
    """tcp: port publishers connect to (the proxy's XSUB side)."""
    sub_port: int = Field(default=5551, ge=1, le=65535)
    """tcp: port subscribers connect to (the proxy's XPUB side)."""
    curve: CurveKeys | None = None
    """tcp: the CURVE keys; required in tcp mode (unauthenticated tcp is refused)."""

    @model_validator(mode="after")
    def _tcp_needs_curve(self) -> BusSection:
        if self.mode == "tcp" and self.curve is None:
            raise ValueError(
                "tcp mode needs CURVE keys (unauthenticated tcp is refused): create them with "
                "'python -m bus.curve keygen keys bus' and "
                "'python -m bus.curve keygen keys/clients local', then set "
                "bus.curve.server_secret, server_public, clients_dir and client_secret"
            )
        if self.mode == "tcp" and self.pub_port == self.sub_port:
            raise ValueError("pub_port and sub_port must differ")
        return self


class RestartPolicy(_Model):
    """When and how fast a worker that ended is started again."""

    policy: Literal["never", "on-failure", "always"] = "on-failure"
    """``on-failure`` restarts after a non-zero exit, a signal or a hang; ``always`` also after a
    clean exit; ``never`` leaves it ended."""
    backoff_initial_s: float = Field(default=0.1, ge=0)
    """Delay before the first restart in a window, s; doubles with each further restart."""
    backoff_max_s: float = Field(default=10.0, ge=0)
    """Cap of the restart delay, s."""
    max_restarts: int = Field(default=5, ge=0)
    """Restarts allowed within ``window_s``; one more failure and the supervisor gives up."""
    window_s: float = Field(default=60.0, gt=0)
    """Length of the restart window, s."""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # ``restart: always`` is short for ``restart: {policy: always}``.
        return {"policy": data} if isinstance(data, str) else data


class WorkerSpec(_Model):
    """One worker: what to run, where, and how it is watched."""

    module: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    """Python module run as ``python -m MODULE`` (give this or ``command``)."""
    command: str | None = Field(default=None, min_length=1)
    """Any executable (a path or a name on ``PATH``), e.g. ``rtos/build/rtapp``."""
    args: tuple[str, ...] = ()
    """Command-line arguments."""
    env: dict[str, str] = {}
    """Extra environment variables."""
    cwd: Path | None = None
    """Working directory; the project root by default."""
    cpus: tuple[int, ...] | Literal["big", "little"] | None = None
    """Cores to pin to: a list of core numbers, or ``big`` / ``little``; unpinned by default."""
    nice: int | None = Field(default=None, ge=-20, le=19)
    """Nice value (lower = more CPU)."""
    sched_fifo: int | None = Field(default=None, ge=1, le=99)
    """SCHED_FIFO real-time priority (needs root or CAP_SYS_NICE)."""
    mlockall: bool = False
    """Lock the worker's memory (a module worker is locked by its launcher; an executable gets
    ``VOICEBUS_MLOCKALL=1`` and must call mlockall(2) itself)."""
    restart: RestartPolicy = RestartPolicy()
    """Restart policy."""
    depends_on: tuple[WorkerName, ...] = ()
    """Workers that must be ready before this one starts."""
    ready: Literal["heartbeat", "started"] | None = None
    """How readiness is known: ``heartbeat`` (state ``ready`` on ``sys.heartbeat``; the default
    for modules) or ``started`` (as soon as it runs; the default for commands)."""
    ready_timeout_s: float | None = Field(default=None, gt=0)
    """Kill and restart a worker not ready this long after its start, s; no limit by default."""
    heartbeat_timeout_s: float = Field(default=3.0, gt=0)
    """A ready bus worker silent this long is killed with SIGKILL and restarted, s."""
    loop_timeout_s: float | None = Field(default=None, gt=0)
    """Kill and restart a ready bus worker whose loop has not asked for a message this long
    (``loop_age_ms`` in its heartbeats: the heartbeat thread still beats while the loop is
    stuck), s. Off by default: a producer that never polls (``wavsource``) has a growing loop
    age."""
    stop_grace_s: float = Field(default=5.0, ge=0)
    """Time between SIGTERM and SIGKILL when stopping, s."""
    standby: bool = False
    """Module workers: keep a spare process with the module's imports done, waiting; a restart
    hands over to it (no interpreter start, no imports) and a new spare is made once the worker
    is ready again. Costs one idle process."""
    autostart: bool = True
    """Start with the supervisor; if false, only on ``supervisor.py start NAME``."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Level of the worker's stderr log."""
    settings: dict[str, Any] = {}
    """Worker-specific settings, handed over in ``VOICEBUS_NODE`` and validated by the worker."""

    @field_validator("cpus", mode="before")
    @classmethod
    def _cpus(cls, value: Any) -> Any:
        if value is None or value in ("big", "little"):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        is_core = lambda c: isinstance(c, int) and not isinstance(c, bool) and c >= 0  # noqa: E731
        if isinstance(value, list | tuple) and value and all(map(is_core, value)):
            return tuple(sorted(set(value)))
        raise ValueError("must be 'big', 'little' or a non-empty list of core numbers (>= 0)")

    @model_validator(mode="after")
    def _one_program(self) -> WorkerSpec:
        if (self.module is None) == (self.command is None):
            raise ValueError("give exactly one of 'module' (Python) or 'command' (executable)")
        return self

    @model_validator(mode="after")
    def _standby_needs_module(self) -> WorkerSpec:
        if self.standby and self.module is None:
            raise ValueError("standby works for 'module' workers only (it pre-imports Python)")
        return self

    @property
    def readiness(self) -> Literal["heartbeat", "started"]:
        """``ready`` with its default filled in."""
        if self.ready is not None:
            return self.ready
        return "heartbeat" if self.module is not None else "started"


class SupervisorConfig(_Model):
    """The whole file."""

    heartbeat_ms: int = Field(default=NodeConfig.model_fields["heartbeat_ms"].default, ge=10)
    """Heartbeat period of every node, ms."""
    bus: BusSection = BusSection()
    """Where the bus lives."""
    workers: dict[WorkerName, WorkerSpec] = {}
    """Worker name -> spec, started in dependency order."""

    @model_validator(mode="after")
    def _check_graph(self) -> SupervisorConfig:
        check_workers(self.workers, set(), self.heartbeat_ms)
        return self


def check_workers(workers: dict[str, WorkerSpec], existing: set[str], heartbeat_ms: int) -> None:
    """Names, dependencies and timeouts of ``workers`` (added beside ``existing`` ones)."""
    known = existing | set(workers)
    for name, spec in workers.items():
        if name in RESERVED_NAMES:
            raise ValueError(f"workers.{name}: the name {name!r} is reserved; pick another")
        for dep in spec.depends_on:
            if dep not in known:
                raise ValueError(
                    f"workers.{name}.depends_on: no worker named {dep!r} "
                    f"(known: {', '.join(sorted(known)) or 'none'})"
                )
        if spec.heartbeat_timeout_s * 1000 < 2 * heartbeat_ms:
            raise ValueError(
                f"workers.{name}.heartbeat_timeout_s: {spec.heartbeat_timeout_s} s is shorter than "
                f"two heartbeats ({2 * heartbeat_ms} ms); raise it or lower heartbeat_ms"
            )
    order_by_dependencies(workers)


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


def parse_config(data: Any, where: str = "config") -> SupervisorConfig:
    """Validate a parsed document; raise :class:`ConfigError` naming every bad key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping with 'bus', 'heartbeat_ms' and 'workers'.")
    try:
        return SupervisorConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"Invalid {where}: {format_validation(exc)}") from exc


def load_config(path: Path) -> SupervisorConfig:
    """Read and validate a config file."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"Cannot read config {path}: {exc.strerror}.") from exc
    return parse_config(_read_yaml(text, str(path)), str(path))


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
            specs[_NAME.validate_python(name)] = WorkerSpec.model_validate(spec or {})
        except ValidationError as exc:
            where_key = f"workers.{name}"
            raise ConfigError(f"Invalid {where}: {format_validation(exc, where_key)}") from exc
    clash = sorted(set(specs) & existing)
    if clash:
        raise ConfigError(f"Invalid {where}: a worker named {clash[0]!r} already exists.")
    try:
        check_workers(specs, existing, heartbeat_ms)
    except ValueError as exc:
        raise ConfigError(f"Invalid {where}: {exc}.") from exc
    return specs


def format_validation(exc: ValidationError, root: str = "") -> str:
    """Like :func:`bus.nodeconfig.format_errors`, without pydantic's "Value error," noise."""
    text = format_errors(exc, root)
    return re.sub(r"(\(top\): )?Value error, ", "", text)


def resolve_path(path: Path) -> Path:
    """``path`` made absolute against the project root."""
    return path if path.is_absolute() else PROJECT_ROOT / path
