"""A node's configuration, handed by the supervisor in one environment variable.

``VOICEBUS_NODE`` holds JSON with the fields of :class:`NodeConfig`. A worker started by hand can
instead name itself with ``VOICEBUS_NAME`` and find the bus of the running supervisor through the
runtime directory (``bus.json`` there), see ``docs/writing-a-worker.md``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bus.errors import ConfigError
from bus.runtime import default_runtime_dir

__all__ = [
    "BUS_FILE",
    "ENV_NAME",
    "ENV_NODE",
    "SHM_HOLD_MS",
    "SHM_MIN_BYTES",
    "SHM_RING_BYTES",
    "CurveClient",
    "NodeConfig",
    "format_errors",
]

ENV_NODE = "VOICEBUS_NODE"
ENV_NAME = "VOICEBUS_NAME"
#: File in the runtime directory with the bus endpoints for nodes started by hand.
BUS_FILE = "bus.json"
#: Defaults of the shared-memory settings (here once: the supervisor's bus section uses them).
#: 64 KiB is where a payload also goes to ZeroMQ without a copy (``bus.socketio``); below it a
#: copy costs less than either.
SHM_MIN_BYTES = 65536
SHM_RING_BYTES = 32 * 1024 * 1024
SHM_HOLD_MS = 100


def format_errors(exc: ValidationError, root: str = "") -> str:
    """One line per validation error, each with the dotted path of the offending key."""
    lines = []
    for err in exc.errors():
        path = ".".join(str(p) for p in (root, *err["loc"]) if p != "")
        msg = "unknown key (check its spelling)" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{path or '(top)'}: {msg}")
    return "; ".join(lines)


class CurveClient(BaseModel):
    """CURVE keys of a node that reaches the proxy over tcp://."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_secret: Path
    """This node's ``.key_secret`` file."""
    server_public: Path
    """The proxy's public ``.key`` file."""


class NodeConfig(BaseModel):
    """Everything a node needs to join the bus."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    """Worker name (the ``src`` of its frames)."""
    pub_endpoint: str
    """Where the node's PUB socket connects (the proxy's XSUB side)."""
    sub_endpoint: str
    """Where the node's SUB socket connects (the proxy's XPUB side)."""
    curve: CurveClient | None = None
    """CURVE keys; required for tcp:// endpoints."""
    heartbeat_ms: int = Field(default=500, ge=10)
    """Period of ``sys.heartbeat``, ms."""
    handshake_timeout_s: float = Field(default=10.0, gt=0)
    """How long to wait for the bus to answer the start-up handshake, s."""
    hwm: int = Field(default=100_000, ge=1)
    """ZeroMQ high-water mark (messages queued per socket before dropping)."""
    shm_min_bytes: int = Field(default=SHM_MIN_BYTES, ge=0)
    """On an ipc:// bus, raw fields of at least this many bytes travel through shared memory
    (``docs/protocol.md`` section 9) while the proxy says every reader reads its rings
    (``sys.bus``), bytes; 0 keeps every payload in its ZeroMQ frame."""
    shm_ring_bytes: int = Field(default=SHM_RING_BYTES, ge=1024 * 1024)
    """Size of a publisher's shared-memory ring (made at its first large payload; a payload
    over a quarter of it travels in frame 2), bytes."""
    shm_hold_ms: int = Field(default=SHM_HOLD_MS, ge=0, le=60_000)
    """A ring slot written less than this long ago is not written over: while the next slot
    is held the payload travels in frame 2, so a reader that takes each payload within this
    time of its publication loses none in a burst, ms; 0 writes over any slot."""
    restarts: int = 0
    """How many times the supervisor restarted this worker before."""
    log_level: str = "INFO"
    """Level of the worker's stderr log."""
    bus_log_level: str = "WARNING"
    """Records at this level and above are also published on ``sys.log``."""
    settings: dict[str, Any] = {}
    """Worker-specific settings (validated by the worker's own model)."""
    exit_reason_file: Path | None = None
    """Where the worker writes one line saying why it ended, when it exits 2 (cannot run as
    configured) or 1 (crashed); set by the supervisor, which shows the line in ``status``."""

    @model_validator(mode="after")
    def _tcp_needs_curve(self) -> NodeConfig:
        for ep in (self.pub_endpoint, self.sub_endpoint):
            if not ep.startswith(("ipc://", "tcp://", "inproc://")):
                raise ValueError(f"endpoint {ep!r} must start with ipc://, tcp:// or inproc://")
            if ep.startswith("tcp://") and self.curve is None:
                raise ValueError(
                    f"endpoint {ep!r} is tcp:// without CURVE keys; unauthenticated tcp is "
                    "refused. Generate keys with 'python -m bus.curve keygen DIR NAME' and set "
                    "curve.client_secret and curve.server_public."
                )
        return self

    @classmethod
    def parse(cls, data: dict[str, Any], where: str = "node config") -> NodeConfig:
        """Validate ``data``; raise :class:`ConfigError` naming every bad key."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"Invalid {where}: {format_errors(exc)}") from exc

    @classmethod
    def from_env(cls, name: str | None = None) -> NodeConfig:
        """The config from ``VOICEBUS_NODE``, or the running supervisor's bus file."""
        raw = os.environ.get(ENV_NODE)
        if raw:
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{ENV_NODE} is not valid JSON: {exc}") from exc
            if name:
                data["name"] = name
            return cls.parse(data, ENV_NODE)
        bus_file = default_runtime_dir() / BUS_FILE
        if not bus_file.is_file():
            raise ConfigError(
                f"No bus configuration: {ENV_NODE} is not set and {bus_file} does not exist. "
                "Start the worker under the supervisor, or start the supervisor first "
                "(set VOICEBUS_RUNTIME_DIR if it uses another runtime directory)."
            )
        data = json.loads(bus_file.read_text())
        data["name"] = name or os.environ.get(ENV_NAME) or f"adhoc-{os.getpid()}"
        return cls.parse(data, str(bus_file))
