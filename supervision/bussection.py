"""The ``bus:`` section of a supervisor config: where the bus lives, and who else is on it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bus.nodeconfig import SHM_HOLD_MS, SHM_MIN_BYTES, SHM_RING_BYTES

__all__ = ["BusSection", "CurveKeys"]


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
    shm_min_bytes: int = Field(default=SHM_MIN_BYTES, ge=0)
    """ipc: raw fields of at least this many bytes travel through shared memory
    (``docs/protocol.md`` section 9) while the proxy says that every reader of the bus reads
    its rings (``sys.bus``; a reader that does not, an outside one on ``tcp://`` included, turns
    it off for as long as it is connected), bytes. 0 keeps every payload in its ZeroMQ frame."""
    shm_ring_bytes: int = Field(default=SHM_RING_BYTES, ge=1024 * 1024)
    """ipc, with ``shm_min_bytes``: size of each publisher's ring in ``/dev/shm``, bytes."""
    shm_hold_ms: int = Field(default=SHM_HOLD_MS, ge=0, le=60_000)
    """ipc, with ``shm_min_bytes``: a publisher does not write over a ring slot written less
    than this long ago (the payload then travels in its ZeroMQ frame), so a reader that keeps
    up within this lag loses nothing in a burst, ms; 0 writes over any slot."""
    peers: tuple[Path, ...] = ()
    """tcp: the configs of the other boards' supervisors on this bus. Their workers count as
    producers and consumers when this config's dataflow is checked (their own settings are
    checked by ``supervisor.py check`` of their file); nothing of them is started here."""

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
        if "shm_min_bytes" in self.model_fields_set and self.shm_min_bytes and self.mode != "ipc":
            raise ValueError(
                "shm_min_bytes needs an ipc bus (shared memory is one board's); remove it or "
                "set mode: ipc"
            )
        if self.peers and self.mode != "tcp":
            raise ValueError(
                "peers share a bus across boards, which only a tcp bus does; set mode: tcp "
                "or remove peers"
            )
        return self
