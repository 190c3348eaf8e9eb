"""What the tap commands share: connecting, stopping on signals, errors, showing payloads."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from bus.errors import BusError
from bus.framing import Envelope
from bus.nodeconfig import ENV_NODE, NodeConfig
from bus.taps.tapnode import DEFAULT_QUEUE, TapNode
from schemas.base import Message

__all__ = ["add_common_args", "connect", "jsonable", "parser_for", "run_cli", "summary"]

_CONNECT_HELP = """
The command joins the bus like any node: with the configuration in VOICEBUS_NODE when the
supervisor started it (it then sends heartbeats and reports ready, like a worker), else through
bus.json in the runtime directory of the running supervisor ($VOICEBUS_RUNTIME_DIR, else
$XDG_RUNTIME_DIR/voicebus, else /tmp/voicebus-<uid>).
"""


def parser_for(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """An argument parser whose help is the module docstring plus how the tap connects."""
    return argparse.ArgumentParser(
        prog=f"python -m {prog}",
        description=(doc or "") + _CONNECT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_common_args(
    parser: argparse.ArgumentParser, default_name: str, *, queue: bool = True
) -> None:
    """``--name`` and (for commands that listen) ``--queue``."""
    parser.add_argument(
        "--name", default=default_name, help=f"node name on the bus (default {default_name})"
    )
    if not queue:
        parser.set_defaults(queue=1)
        return
    parser.add_argument(
        "--queue",
        type=int,
        default=DEFAULT_QUEUE,
        metavar="N",
        help=f"frames buffered before this tap drops its own (default {DEFAULT_QUEUE})",
    )


def connect(
    args: argparse.Namespace, patterns: Sequence[str], **kwargs: Any
) -> tuple[TapNode, threading.Event]:
    """Join the bus; SIGINT/SIGTERM then set the returned event and stop the tap."""
    # under the supervisor (VOICEBUS_NODE set) a tap beats like any worker, so it becomes ready
    supervised = bool(os.environ.get(ENV_NODE))
    kwargs.setdefault("heartbeat", supervised)
    tap = TapNode(NodeConfig.from_env(args.name), patterns, queue_size=args.queue, **kwargs)
    stop = threading.Event()

    def _handler(_signum: int, _frame: object) -> None:
        stop.set()
        tap.request_stop()

    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    return tap, stop


def run_cli(main: Callable[[], int]) -> None:
    """Run ``main`` and exit with its status; a bus error is one clear line, status 2."""
    try:
        code = main()
    except BusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 2
    except BrokenPipeError:
        code = 0  # `python -m bus.taps.tap | head` closed our stdout: not an error
    sys.exit(code)


def jsonable(value: Any, *, nested: bool = False) -> Any:
    """``value`` with models as maps and bytes as ``{"bytes": length}`` (for display).

    A model inside the payload (such as each of ``llm.reply``'s intents) shows only the fields
    that differ from their defaults, so a line stays readable.
    """
    if isinstance(value, Message):
        fields = type(value).model_fields
        return {
            name: jsonable(getattr(value, name), nested=True)
            for name, info in fields.items()
            if not nested or getattr(value, name) != info.default
        }
    if isinstance(value, dict):
        return {str(k): jsonable(v, nested=True) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v, nested=True) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": len(value)}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def summary(msg: Envelope, width: int = 160) -> str:
    """The payload as ``key=value`` pairs, bytes as their length, cut to ``width`` characters."""
    body = jsonable(msg.payload)
    parts = []
    for key, value in body.items():
        if isinstance(value, dict) and set(value) == {"bytes"}:
            text = f"<{value['bytes']} B>"
        elif isinstance(value, str):
            text = repr(value)
        else:
            text = str(value)
        parts.append(f"{key}={text}")
    line = " ".join(parts)
    return line if len(line) <= width else line[: width - 3] + "..."
