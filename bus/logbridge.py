"""Logging of a worker: stderr lines with the worker's name and pid, and ``sys.log`` on the bus."""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import TYPE_CHECKING

from schemas.system import LogRecord

if TYPE_CHECKING:
    from bus.nodecore import NodeCore

__all__ = ["BusLogHandler", "configure_logging"]


class BusLogHandler(logging.Handler):
    """Publishes records on ``sys.log`` (never recursively: a failure here is not logged)."""

    def __init__(self) -> None:
        super().__init__()
        self._node: NodeCore | None = None
        self._inside = threading.local()

    def attach(self, node: NodeCore, level: str) -> None:
        """Start publishing records at ``level`` and above through ``node``."""
        self._node = node
        self.setLevel(level.upper())
        logging.getLogger().addHandler(self)

    def detach(self) -> None:
        """Stop publishing."""
        logging.getLogger().removeHandler(self)
        self._node = None

    def emit(self, record: logging.LogRecord) -> None:
        node = self._node
        if node is None or getattr(self._inside, "busy", False):
            return
        self._inside.busy = True
        try:
            node.publish(
                "sys.log",
                LogRecord(
                    worker=node.name,
                    level=record.levelname,
                    logger=record.name,
                    message=record.getMessage(),
                ),
            )
        except Exception:  # a log line must never take the worker down
            pass
        finally:
            self._inside.busy = False


def configure_logging(name: str, level: str = "INFO") -> BusLogHandler:
    """Log to stderr as ``time level name[pid] logger: message``; return the bus handler."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            f"%(asctime)s %(levelname)s {name}[{os.getpid()}] %(name)s: %(message)s",
            datefmt="%H:%M:%S",
        )
    )
    root.handlers[:] = [handler]
    return BusLogHandler()
