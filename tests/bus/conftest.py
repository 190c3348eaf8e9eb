"""Fixtures: a real proxy process on ipc endpoints in a private temporary directory."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bus.nodeconfig import NodeConfig


class ProxyProc:
    """A running ``python -m bus.proxy`` and the node configs that reach it."""

    def __init__(self, tmp: Path) -> None:
        self.pub = f"ipc://{tmp}/pub"
        self.sub = f"ipc://{tmp}/sub"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bus.proxy", "--xsub", self.pub, "--xpub", self.sub]
        )
        deadline = time.monotonic() + 10
        while not (tmp / "sub").exists() and time.monotonic() < deadline:
            time.sleep(0.02)

    def config(self, name: str, **kw: object) -> NodeConfig:
        return NodeConfig(name=name, pub_endpoint=self.pub, sub_endpoint=self.sub, **kw)  # type: ignore[arg-type]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[ProxyProc]:
    p = ProxyProc(tmp_path)
    yield p
    p.stop()
