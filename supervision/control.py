"""The control socket: a ZeroMQ REP socket in the runtime directory, and its client.

The wire format (JSON requests and replies) is documented per command in
:mod:`supervision.commands`. Only processes that can enter the 0700 runtime directory can reach
the socket, so it needs no authentication of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

from supervision.buslayout import CONTROL_SOCKET, control_endpoint
from supervision.errors import ControlError

__all__ = ["ControlClient", "ControlServer"]


class ControlServer:
    """Answers requests between the arbiter's other duties (never blocks)."""

    def __init__(self, runtime_dir: Path, handle: Callable[[bytes], bytes]) -> None:
        self.path = runtime_dir / CONTROL_SOCKET
        if self.path.exists():
            if _answers(runtime_dir):
                raise ControlError(
                    f"A supervisor is already running with runtime directory {runtime_dir}; stop "
                    "it ('python supervisor.py quit') or set VOICEBUS_RUNTIME_DIR to another one."
                )
            self.path.unlink()  # left by a supervisor that was killed
        self._handle = handle
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.REP)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.bind(control_endpoint(runtime_dir))

    def serve_pending(self) -> int:
        """Answer every request waiting now; return how many."""
        n = 0
        while self._sock.poll(0):
            self._sock.send(self._handle(self._sock.recv()))
            n += 1
        return n

    def close(self) -> None:
        """Close the socket and remove its file."""
        self._sock.close(linger=0)
        self._ctx.term()
        self.path.unlink(missing_ok=True)


class ControlClient:
    """Sends one request at a time to the supervisor of ``runtime_dir``."""

    def __init__(self, runtime_dir: Path, timeout_s: float = 5.0) -> None:
        self.runtime_dir = runtime_dir
        self.timeout_s = timeout_s

    def call(self, command: str, **args: Any) -> dict[str, Any]:
        """Send ``{"command": command, **args}``; return the reply, or raise ControlError."""
        if not (self.runtime_dir / CONTROL_SOCKET).exists():
            raise ControlError(
                f"No supervisor is running with runtime directory {self.runtime_dir} (no control "
                "socket there). Start one with 'python supervisor.py CONFIG', or set "
                "VOICEBUS_RUNTIME_DIR to the directory of the one you mean."
            )
        ctx = zmq.Context()
        sock = ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            sock.connect(control_endpoint(self.runtime_dir))
            sock.send(json.dumps({"command": command, **args}).encode())
            if not sock.poll(int(self.timeout_s * 1000)):
                raise ControlError(
                    f"The supervisor at {self.runtime_dir} did not answer within "
                    f"{self.timeout_s:g} s; it may be stuck or gone (remove a stale "
                    f"{CONTROL_SOCKET} socket file if no supervisor runs)."
                )
            reply: dict[str, Any] = json.loads(sock.recv())
        finally:
            sock.close(linger=0)
            ctx.term()
        if not reply.get("ok"):
            raise ControlError(str(reply.get("error", "The supervisor refused the request.")))
        return reply


def _answers(runtime_dir: Path) -> bool:
    try:
        ControlClient(runtime_dir, timeout_s=1.0).call("status")
    except ControlError:
        return False
    return True
