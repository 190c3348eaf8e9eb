"""Fixtures of the rtos tests: the C build (make -C rtos) and region helpers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RTAPP = ROOT / "rtos" / "build" / "rtapp"


@pytest.fixture(scope="session", autouse=True)
def rtos_build() -> None:
    """Build libivmr.so and rtapp (a no-op when up to date)."""
    subprocess.run(["make", "-s", "-C", str(ROOT / "rtos")], check=True)
