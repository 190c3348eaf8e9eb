"""The entry wrapper every worker's ``main()`` shares, and the exit-code contract.

    def main() -> int:
        return run_worker(MANIFEST, work, cannot_run=(ModelDirError,))

    def work(node: BusNode) -> None:
        settings = node.settings_as(AsrSettings)   # already checked against the manifest
        ...                                        # open resources, ready, loop, publish

``run_worker`` joins the bus with the configuration the supervisor handed over and the worker's
manifest (so the node is subscribed to what the worker consumes, and its settings are checked
before anything else), runs ``work(node)`` and turns its end into an exit code:

====  ========================  ===========================================================
code  meaning                   when
====  ========================  ===========================================================
0     done                      ``work`` returned ``None`` (or 0): stopped, or finished
1     crashed                   anything unexpected (the traceback is logged): restart it
2     cannot run as configured  invalid settings or node config (``bus.ConfigError``), or
                                one of ``cannot_run`` (a missing model, device or library):
                                restarting will not help until someone acts
====  ========================  ===========================================================

For 2 and 1 the worker says why in **one line** (the error's sentence, whitespace folded; for
1 prefixed with the exception's type): logged as ``worker_cannot_run reason=...`` or
``worker_failed reason=...`` (stderr, and ``sys.log`` once joined), and written to
``NodeConfig.exit_reason_file`` (or, when the node config itself could not be read, to
``$VOICEBUS_REASON_FILE``: the supervisor sets both to one file), so that ``status`` can show
it. The codes are those of :mod:`supervision.exitcodes`. The node is always closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bus import BusNode, ConfigError, Manifest, Node, NodeConfig
from supervision.exitcodes import EXIT_CANNOT_RUN, EXIT_CRASHED, REASON_MAX_CHARS, write_reason

__all__ = ["one_line", "run_worker"]

log = logging.getLogger("workers.runner")


def one_line(exc: BaseException) -> str:
    """The error's message on one line (its type name if it has none)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= REASON_MAX_CHARS else text[: REASON_MAX_CHARS - 3] + "..."


def run_worker(
    manifest: Manifest,
    work: Callable[[BusNode], int | None],
    *,
    cannot_run: tuple[type[Exception], ...] = (),
) -> int:
    """Join the bus as ``manifest`` says, run ``work(node)``; return the process exit code."""
    try:
        config = NodeConfig.from_env()
    except ConfigError as exc:
        return _ended(EXIT_CANNOT_RUN, exc, None)
    try:
        node = Node(config, manifest=manifest, logging_setup=True)
    except ConfigError as exc:
        return _ended(EXIT_CANNOT_RUN, exc, config)
    except Exception as exc:
        return _ended(EXIT_CRASHED, exc, config)
    expected: tuple[type[Exception], ...] = (ConfigError, *cannot_run)
    try:
        code = work(node)
        return 0 if code is None else code
    except expected as exc:
        return _ended(EXIT_CANNOT_RUN, exc, config)
    except Exception as exc:
        return _ended(EXIT_CRASHED, exc, config)
    finally:
        node.close()


def _ended(code: int, exc: Exception, config: NodeConfig | None) -> int:
    reason = one_line(exc) if code == EXIT_CANNOT_RUN else f"{type(exc).__name__}: {one_line(exc)}"
    if code == EXIT_CANNOT_RUN:
        log.error("worker_cannot_run reason=%s", reason)
    else:
        log.exception("worker_failed reason=%s", reason)
    path = config.exit_reason_file if config is not None else None
    if path is None:
        write_reason(reason)  # $VOICEBUS_REASON_FILE: the node config could not be read
    else:
        try:
            path.write_text(reason + "\n")
        except OSError as err:
            log.warning("exit_reason_not_written path=%s error=%s", path, err)
    return code
