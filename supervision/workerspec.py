"""One ``workers:`` entry of a supervisor config: what to run, where, how it is watched, and
where its manifest is (or, for a command, its dataflow declared in place)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    field_validator,
    model_validator,
)

from bus.manifest import WorkerKind

__all__ = ["NAME", "Declaration", "RestartPolicy", "WorkerName", "WorkerSpec"]

WorkerName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")]
NAME: TypeAdapter[str] = TypeAdapter(WorkerName)
#: ``package.module`` or ``package.module:ATTRIBUTE`` (``MANIFEST`` when no attribute is given).
ManifestRef = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*(:[A-Za-z_][A-Za-z0-9_]*)?$")
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class Declaration(_Model):
    """A dataflow declared in the config rather than in a Python manifest: a command (any
    executable, e.g. ``rtos/build/rtapp``) or, under ``external:``, something on the bus that no
    supervisor starts (a test, a replay, a program run by hand)."""

    kind: WorkerKind
    """``source``, ``stage``, ``sink`` or ``gateway`` (see :mod:`bus.manifest`)."""
    summary: str = ""
    """One line: what it does (shown by ``supervisor.py graph``)."""
    consumes: tuple[str, ...] = ()
    """Topics (or globs) it subscribes to on the bus; each exact topic must be registered."""
    produces: tuple[str, ...] = ()
    """Topics it publishes on the bus; each must be registered."""
    link: WorkerName | None = None
    """A gateway worker this one talks to outside the bus (the rtapp: through the gateway's
    shared-memory rings); the graph draws that link with the gateway's ``bridge``."""


class RestartPolicy(_Model):
    """When and how fast a worker that ended is started again."""

    policy: Literal["never", "on-failure", "always"] = "on-failure"
    """``on-failure`` restarts after exit 1 (or another failure: a signal, a hang); ``always``
    also after a clean exit 0; ``never`` leaves it ended. Exit 2 ("cannot run as configured")
    is never restarted."""
    backoff_initial_s: float = Field(default=0.05, ge=0)
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
    manifest: ManifestRef | Declaration | None = None
    """Where the worker's manifest is: a module (``MODULE`` or ``MODULE:ATTRIBUTE``, default
    attribute ``MANIFEST``) importable from ``cwd``; by default ``MODULE.manifest`` for a package
    module (every worker under ``workers/``). A command declares its dataflow here instead:
    ``{kind, summary, consumes: [...], produces: [...], link: GATEWAY}``."""
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
    standby: bool | None = None
    """Module workers: keep a spare process with the module's imports done, waiting; a restart
    hands over to it (no interpreter start, no imports) and a new spare is made once the worker
    is ready again and nothing else is starting. Costs one idle process (40-55 MiB for the
    pipeline's workers). On by default for a module worker, off for a command (not Python)."""
    autostart: bool = True
    """Start with the supervisor; if false, only on ``supervisor.py start NAME``."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Level of the worker's stderr log."""
    settings: dict[str, Any] = {}
    """Worker-specific settings, handed over in ``VOICEBUS_NODE``; checked against the settings
    model of the worker's manifest before anything starts, and again by the worker."""

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
    def uses_standby(self) -> bool:
        """``standby`` with its default filled in (on for a module worker)."""
        return self.standby if self.standby is not None else self.module is not None

    @property
    def readiness(self) -> Literal["heartbeat", "started"]:
        """``ready`` with its default filled in."""
        if self.ready is not None:
            return self.ready
        return "heartbeat" if self.module is not None else "started"
