"""The control API: one class per command; its docstring is its reference page.

A request is one JSON object ``{"command": NAME, ...arguments}`` sent to the control socket
(a ZeroMQ REP socket, ``ipc://<runtime dir>/control``); the reply is one JSON object, ``{"ok":
true, ...}`` or ``{"ok": false, "error": "<a sentence saying what to do>"}``. Commands return at
once; the CLI waits for the state it asked for by polling ``status``.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, ClassVar

from supervision.config import parse_workers
from supervision.dataflow import analyse
from supervision.errors import ConfigError, ControlError

if TYPE_CHECKING:
    from supervision.arbiter import Arbiter

__all__ = ["COMMANDS", "Command", "dispatch"]

log = logging.getLogger(__name__)


class Command:
    """Base of the control commands."""

    name: ClassVar[str]

    def execute(self, arbiter: Arbiter, request: dict[str, Any]) -> dict[str, Any]:
        """Carry out ``request``; return the reply fields (``ok`` is added by the caller)."""
        raise NotImplementedError

    @staticmethod
    def worker_name(arbiter: Arbiter, request: dict[str, Any]) -> str:
        """The existing worker named in ``request["name"]``."""
        name = request.get("name")
        if not isinstance(name, str) or name not in arbiter.workers:
            known = ", ".join(arbiter.workers) or "none"
            raise ControlError(f"No worker named {name!r}; known workers: {known}.")
        return name


class Status(Command):
    """Every worker's state.

    Request: ``{"command": "status"}``

    Reply: ``{"ok": true, "workers": [ROW, ...], "bus": BUS}``, one ROW per worker in start
    order::

        {"name": "echo", "state": "ready", "pid": 4242, "cpus": [0, 1] | null,
         "restarts": 0, "uptime_s": 12.5 | null, "last_exit": -9 | null,
         "last_exit_text": "killed by SIGKILL", "detail": "", "reason": "",
         "program": "workers.echo", "depends_on": ["source"], "standby_pid": 4243 | null,
         "standby_ready": true}

    ``state`` is one of waiting, starting, ready, backoff, stopping, stopped, exited, failed;
    ``last_exit`` is negative for a signal; ``standby_pid`` the spare that the next start hands
    over to, ``standby_ready`` whether it has done its imports; ``reason`` is the one line the
    last process left for its exit (``supervision.exitcodes``), ``detail`` what the supervisor
    makes of it (``failed`` after exit 2: "cannot run as configured: <reason> ..."). BUS is the
    proxy::

        {"pid": 4200, "standby_pid": 4201 | null, "restarts": 0, "down": false}

    (``down``: the proxy is dead or nothing comes back through the bus, see
    ``supervision.buswatch``). CLI: ``python supervisor.py status [--json]``.
    """

    name = "status"

    def execute(self, arbiter: Arbiter, request: dict[str, Any]) -> dict[str, Any]:
        return {"workers": arbiter.status(), "bus": arbiter.bus_status()}


class Start(Command):
    """Start a worker that is stopped, exited or given up on (its restart window starts afresh).

    Request: ``{"command": "start", "name": "echo"}``; reply: ``{"ok": true, "state": "waiting"}``
    (it starts once its dependencies are ready). CLI: ``python supervisor.py start NAME``,
    which waits until the worker is ready.
    """

    name = "start"

    def execute(self, arbiter: Arbiter, request: dict[str, Any]) -> dict[str, Any]:
        worker = arbiter.workers[self.worker_name(arbiter, request)]
        worker.request_start()
        return {"state": worker.state}


class Stop(Command):
    """Stop a worker: SIGTERM, then SIGKILL after its ``stop_grace_s``; it is not restarted.

    Request: ``{"command": "stop", "name": "echo"}``; reply: ``{"ok": true, "state":
    "stopping"}``. CLI: ``python supervisor.py stop NAME``, which waits until it stopped.
    """

    name = "stop"

    def execute(self, arbiter: Arbiter, request: dict[str, Any]) -> dict[str, Any]:
        worker = arbiter.workers[self.worker_name(arbiter, request)]
        worker.request_stop(arbiter.clock())
        return {"state": worker.state}


class Restart(Command):
    """Stop a worker, then start it again (not counted against its restart window).

    Request: ``{"command": "restart", "name": "echo"}``; reply: ``{"ok": true, "state":
    "stopping"}``. CLI: ``python supervisor.py restart NAME``, which waits until it is ready.
    """

    name = "restart"

    def execute(self, arbiter: Arbiter, request: dict[str, Any]) -> dict[str, Any]:
        worker = arbiter.workers[self.worker_name(arbiter, request)]
        worker.request_restart(arbiter.clock())
        return {"state": worker.state}


class Add(Command):
    """Attach new workers at run time, validated like the config file.

    Request: ``{"command": "add", "yaml": "echo2: {module: workers.echo, cpus: little}"}`` (a
    YAML mapping of name -> worker spec, exactly as under ``workers:`` in the config); reply:
    ``{"ok": true, "added": ["echo2"], "warnings": [...]}``. The new workers' manifests are
    checked like the config's (settings, manifest, dependencies: an error refuses them all);
    a consumed topic that nothing produces yet is only a warning here, since a producer may
    attach later. Restart policy, pinning and dependencies apply from then on; the worker is not
    written back to the config file.

    CLI: ``python supervisor.py add FILE.yaml``, ``add 'NAME: {module: ...}'`` (inline YAML) or
    ``add workers.echo [--name NAME]`` (a module with default settings).
    """

    name = "add"

    def execute(self, arbiter: Arbiter, request: dict[str, Any]) -> dict[str, Any]:
        text = request.get("yaml")
        if not isinstance(text, str):
            raise ControlError("'add' needs a 'yaml' string mapping worker names to specs.")
        specs = parse_workers(text, set(arbiter.workers), arbiter.config.heartbeat_ms)
        running = {name: w.spec for name, w in arbiter.workers.items()}
        df = analyse(arbiter.config.model_copy(update={"workers": running}), adding=specs)
        if df.errors:
            raise ConfigError(f"Refused: {'; '.join(df.errors)}.")
        arbiter.add_workers(specs)
        return {"added": list(specs), "warnings": df.warnings}


class Quit(Command):
    """Stop every worker in reverse dependency order, then the bus, then the supervisor.

    Request: ``{"command": "quit"}``; reply: ``{"ok": true}``. Same as Ctrl-C on the foreground
    supervisor. CLI: ``python supervisor.py quit``.
    """

    name = "quit"

    def execute(self, arbiter: Arbiter, request: dict[str, Any]) -> dict[str, Any]:
        arbiter.request_shutdown()
        return {}


COMMANDS: dict[str, Command] = {c.name: c() for c in (Status, Start, Stop, Restart, Add, Quit)}


def dispatch(arbiter: Arbiter, raw: bytes) -> bytes:
    """Decode a request, run its command, encode the reply (never raises)."""
    try:
        request = json.loads(raw)
        if not isinstance(request, dict):
            raise ControlError("A request must be a JSON object with a 'command' key.")
        command = COMMANDS.get(request.get("command", ""))
        if command is None:
            raise ControlError(
                f"Unknown command {request.get('command')!r}; use one of {', '.join(COMMANDS)}."
            )
        reply = {"ok": True, **command.execute(arbiter, request)}
    except json.JSONDecodeError as exc:
        reply = {"ok": False, "error": f"The request is not valid JSON: {exc}."}
    except (ControlError, ConfigError) as exc:
        reply = {"ok": False, "error": str(exc)}
    except Exception as exc:  # a bug in one command must not take every worker down
        log.exception("control_command_failed")
        reply = {
            "ok": False,
            "error": f"The supervisor failed on this request ({exc!r}); see its log.",
        }
    return json.dumps(reply).encode()
