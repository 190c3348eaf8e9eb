"""Helpers for the tap tests: frames without sockets, tap commands as real processes."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from typing import Any

from bus.framing import encode
from bus.taps.tapnode import Received
from schemas.base import Message
from tests.bus.conftest import ProxyProc


def frames(
    topic: str, payload: Message, *, source: str = "w", seq: int = 1, **kw: Any
) -> list[bytes]:
    """Encoded frames of one message."""
    return encode(
        topic,
        payload,
        source=source,
        instance=kw.pop("instance", 7),
        seq=seq,
        ts_ns=kw.pop("ts_ns", time.monotonic_ns()),
        **kw,
    )


def received(topic: str, payload: Message, *, age_ns: int = 1000, **kw: Any) -> Received:
    """A :class:`Received` as the receiver thread would make it."""
    now = time.monotonic_ns()
    return Received(now, frames(topic, payload, ts_ns=now - age_ns, **kw))


def tap_env(proxy: ProxyProc) -> dict[str, str]:
    """Environment that makes a tap command join ``proxy``'s bus."""
    node = {"name": "t", "pub_endpoint": proxy.pub, "sub_endpoint": proxy.sub}
    return {**os.environ, "VOICEBUS_NODE": json.dumps(node)}


def start(args: list[str], proxy: ProxyProc, *, ready: str = "# ") -> subprocess.Popen[str]:
    """Start ``python -m <args>`` and wait until it printed ``ready`` on stderr (connected)."""
    return start_with_line(args, proxy, ready=ready)[0]


def start_with_line(
    args: list[str], proxy: ProxyProc, *, ready: str = "# "
) -> tuple[subprocess.Popen[str], str]:
    """Like :func:`start`, also returning the line that said it was connected."""
    proc = subprocess.Popen(
        [sys.executable, "-m", *args],
        env=tap_env(proxy),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if select.select([proc.stderr], [], [], 0.1)[0]:
            line = proc.stderr.readline()
            if line.startswith(ready):
                return proc, line
            if not line and proc.poll() is not None:
                break
    proc.kill()
    raise AssertionError(f"{args[0]} did not connect: {proc.communicate()}")
