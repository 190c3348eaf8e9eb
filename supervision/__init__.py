"""The supervisor: checks a config against the workers' manifests, then starts the bus and the
workers, pins them, watches them, restarts them.

One concept per module:

- :mod:`supervision.config`     the YAML config as frozen pydantic models, and its cross-checks
- :mod:`supervision.workerspec` one ``workers:`` entry (and a dataflow declared in the config)
- :mod:`supervision.bussection` the ``bus:`` section (ipc or tcp, CURVE keys, peer boards)
- :mod:`supervision.manifests`  where a worker's manifest is, and importing it
- :mod:`supervision.catalogue`  every manifest the repository ships, the supervisor's, the taps'
- :mod:`supervision.dataflow`   a config read into the nodes of its bus, every problem at once
- :mod:`supervision.busgraph`   nodes and edges, and the wiring checks (no producer, no reader)
- :mod:`supervision.graphlayout` a layered layout of the graph (pure)
- :mod:`supervision.render`     the graph as text, Mermaid and SVG (``supervisor.py graph``)
- :mod:`supervision.topictable` the topic table of ``docs/protocol.md``; :mod:`supervision.docgen`
  rewrites the generated pages
- :mod:`supervision.topology`   CPU cores and their classes (``big`` / ``little``)
- :mod:`supervision.buslayout`  endpoints, proxy command line and ``bus.json`` for ipc or tcp
- :mod:`supervision.exitcodes`  the exit-code contract (0 done, 1 crashed, 2 cannot run), reasons
- :mod:`supervision.program`    what is executed for a worker: argv, environment, reason file
- :mod:`supervision.child`      one OS process: spawn, signal, reap, normalised exit code
- :mod:`supervision.restart`    restart policy, capped exponential backoff, restart window
- :mod:`supervision.standby`    a worker's spare process, its imports done, waiting to take over
- :mod:`supervision.statefiles` where a worker keeps what it must remember across its restarts
- :mod:`supervision.worker`     one configured worker's state machine across its processes
- :mod:`supervision.buswatch`   the proxy (restarted from a spare, announced) and the bus's health
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
