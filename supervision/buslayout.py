"""Where the bus is: endpoints, the proxy's command line, ``bus.json`` and the control socket.

In ``ipc`` mode every socket is a file in the private runtime directory (``pub``, ``sub`` for the
proxy, ``control`` for the supervisor). In ``tcp`` mode the proxy binds ``host:pub_port`` and
``host:sub_port`` with CURVE on both, and every local node (the supervisor's own included) is a
CURVE client with the configured client key, so there is no unauthenticated path to the bus.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq.auth

from bus import curve
from bus.nodeconfig import SHM_HOLD_MS, SHM_MIN_BYTES, SHM_RING_BYTES, CurveClient, NodeConfig
from bus.runtime import ENV_RUNTIME_DIR, default_runtime_dir
from supervision.config import BusSection, CurveKeys, resolve_path
from supervision.errors import ConfigError

__all__ = ["CONTROL_SOCKET", "BusLayout", "control_endpoint", "runtime_dir_for"]

#: Name of the control socket file in the runtime directory.
CONTROL_SOCKET = "control"


def runtime_dir_for(section: BusSection | None) -> Path:
    """``$VOICEBUS_RUNTIME_DIR`` if set, else the config's ``bus.runtime_dir``, else default."""
    if os.environ.get(ENV_RUNTIME_DIR):
        return default_runtime_dir()
    if section is not None and section.runtime_dir is not None:
        return resolve_path(section.runtime_dir)
    return default_runtime_dir()


def control_endpoint(runtime_dir: Path) -> str:
    """The supervisor's control socket in ``runtime_dir``."""
    return f"ipc://{runtime_dir / CONTROL_SOCKET}"


@dataclass(frozen=True)
class BusLayout:
    """Resolved addresses of one bus."""

    runtime_dir: Path
    bind_xsub: str
    bind_xpub: str
    pub_endpoint: str
    sub_endpoint: str
    curve: CurveKeys | None = None
    shm_min_bytes: int = SHM_MIN_BYTES
    shm_ring_bytes: int = SHM_RING_BYTES
    shm_hold_ms: int = SHM_HOLD_MS

    @classmethod
    def from_config(cls, section: BusSection) -> BusLayout:
        """The layout of ``section``; key files are checked now, not at the first connect."""
        run = runtime_dir_for(section)
        if len(str(run / CONTROL_SOCKET)) > 100:
            raise ConfigError(
                f"Runtime directory {run} is too long for ipc socket paths (about 100 bytes at "
                f"most); set {ENV_RUNTIME_DIR} to a shorter directory."
            )
        if section.mode == "ipc":
            pub, sub = f"ipc://{run / 'pub'}", f"ipc://{run / 'sub'}"
            return cls(
                run,
                pub,
                sub,
                pub,
                sub,
                shm_min_bytes=section.shm_min_bytes,
                shm_ring_bytes=section.shm_ring_bytes,
                shm_hold_ms=section.shm_hold_ms,
            )
        assert section.curve is not None  # BusSection refuses tcp without keys
        keys = CurveKeys(
            server_secret=resolve_path(section.curve.server_secret),
            server_public=resolve_path(section.curve.server_public),
            clients_dir=resolve_path(section.curve.clients_dir),
            client_secret=resolve_path(section.curve.client_secret),
        )
        _check_keys(keys)
        host = section.connect_host or (
            "127.0.0.1" if section.host in ("0.0.0.0", "*") else section.host
        )
        return cls(
            run,
            f"tcp://{section.host}:{section.pub_port}",
            f"tcp://{section.host}:{section.sub_port}",
            f"tcp://{host}:{section.pub_port}",
            f"tcp://{host}:{section.sub_port}",
            keys,
            shm_min_bytes=0,  # shared memory is one machine's
        )

    @property
    def control(self) -> str:
        """The control socket endpoint."""
        return control_endpoint(self.runtime_dir)

    def proxy_argv(self) -> list[str]:
        """Command line of the proxy child."""
        argv = [sys.executable, "-m", "bus.proxy", "--xsub", self.bind_xsub]
        argv += ["--xpub", self.bind_xpub]
        if self.curve is not None:
            argv += ["--server-secret", str(self.curve.server_secret)]
            argv += ["--clients-dir", str(self.curve.clients_dir)]
        return argv

    def node_curve(self) -> CurveClient | None:
        """CURVE client keys of a local node."""
        if self.curve is None:
            return None
        return CurveClient(
            client_secret=self.curve.client_secret, server_public=self.curve.server_public
        )

    def bus_file_data(self, heartbeat_ms: int) -> dict[str, Any]:
        """Contents of ``bus.json``: the fields of :class:`NodeConfig` a node needs, minus name."""
        cfg = self.node_config("x", heartbeat_ms)
        return cfg.model_dump(mode="json", exclude={"name", "restarts", "settings"})

    def node_config(
        self,
        name: str,
        heartbeat_ms: int,
        *,
        restarts: int = 0,
        settings: dict[str, Any] | None = None,
        log_level: str = "INFO",
    ) -> NodeConfig:
        """The ``VOICEBUS_NODE`` of a worker."""
        return NodeConfig(
            name=name,
            pub_endpoint=self.pub_endpoint,
            sub_endpoint=self.sub_endpoint,
            curve=self.node_curve(),
            heartbeat_ms=heartbeat_ms,
            shm_min_bytes=self.shm_min_bytes,
            shm_ring_bytes=self.shm_ring_bytes,
            shm_hold_ms=self.shm_hold_ms,
            restarts=restarts,
            log_level=log_level,
            settings=settings or {},
        )

    def socket_files(self) -> list[Path]:
        """ipc socket files to remove when the supervisor ends."""
        eps = [self.bind_xsub, self.bind_xpub, self.control]
        return [Path(ep[len("ipc://") :]) for ep in eps if ep.startswith("ipc://")]


def _check_keys(keys: CurveKeys) -> None:
    try:
        curve.load_secret(keys.server_secret)
        curve.load_public(keys.server_public)
        client_public, _ = curve.load_secret(keys.client_secret)
    except Exception as exc:
        raise ConfigError(f"bus.curve: {exc}") from exc
    if not keys.clients_dir.is_dir():
        raise ConfigError(
            f"bus.curve.clients_dir: {keys.clients_dir} is not a directory; put the public .key "
            "file of every admitted client there."
        )
    admitted = zmq.auth.load_certificates(str(keys.clients_dir))
    if client_public not in admitted:
        raise ConfigError(
            f"bus.curve.client_secret: the public key of {keys.client_secret} is not in "
            f"{keys.clients_dir}; copy its .key file there, or the local workers are refused."
        )
