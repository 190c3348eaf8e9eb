"""The entry wrapper every worker's ``main()`` shares.

    def main() -> int:
        return run_worker(_work)

    def _work(node: Node) -> int | None:
        ...  # subscribe, ready, loop, publish

``run_worker`` joins the bus with the configuration handed by the supervisor, runs the worker's
body, and turns its end into an exit code the supervisor understands: the body's own code (0 when
it returns ``None``), 2 with a one-line error for the expected failures named in ``unavailable``
(a missing device or model backend: restarting will not help until someone acts), and 1 with the
traceback for anything unexpected, so the worker is restarted rather than limping on (the one
catch-all of the house style). The node is always closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bus import Node

__all__ = ["run_worker"]

log = logging.getLogger("workers.runner")


def run_worker(
    work: Callable[[Node], int | None],
    *,
    unavailable: tuple[type[Exception], ...] = (),
) -> int:
    """Run ``work(node)`` on a node from the environment; return the process exit code."""
    node = Node.from_env()
    try:
        code = work(node)
        return 0 if code is None else code
    except unavailable as exc:
        log.error("worker_unavailable error=%s", exc)
        return 2
    except Exception:
        log.exception("worker_failed")
        return 1
    finally:
        node.close()
