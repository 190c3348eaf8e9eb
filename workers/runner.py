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
catch-all of the house style). The one-line reason of a non-zero exit is also left for the
supervisor, which shows it in ``status`` (:mod:`supervision.exitcodes`). The node is always
closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bus import Node
from supervision.exitcodes import EXIT_CANNOT_RUN, EXIT_CRASHED, write_reason

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
        write_reason(str(exc))
        return EXIT_CANNOT_RUN
    except Exception as exc:
        log.exception("worker_failed")
        write_reason(f"{type(exc).__name__}: {exc}")
        return EXIT_CRASHED
    finally:
        node.close()
