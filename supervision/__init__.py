"""The supervisor: starts the bus and the workers, pins them, watches them, restarts them.

One concept per module:

- :mod:`supervision.config`     the YAML config as frozen pydantic models
- :mod:`supervision.topology`   CPU cores and their classes (``big`` / ``little``)
- :mod:`supervision.buslayout`  endpoints, proxy command line and ``bus.json`` for ipc or tcp
- :mod:`supervision.child`      one OS process: spawn, signal, reap, normalised exit code
- :mod:`supervision.restart`    restart policy, capped exponential backoff, restart window
- :mod:`supervision.worker`     one configured worker's state machine across its processes
- :mod:`supervision.commands`   the control API, one class per command
- :mod:`supervision.control`    the control socket (server side and client)
- :mod:`supervision.arbiter`    the loop tying it together
- :mod:`supervision.cli`        ``python supervisor.py ...``
"""

from supervision.config import SupervisorConfig, WorkerSpec, load_config
from supervision.errors import ConfigError, ControlError, SupervisionError

__all__ = [
    "ConfigError",
    "ControlError",
    "SupervisionError",
    "SupervisorConfig",
    "WorkerSpec",
    "load_config",
]
