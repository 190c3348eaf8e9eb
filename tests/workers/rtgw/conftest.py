"""The gateway tests load rtos/build/libivmr.so: build it first (a no-op when up to date)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session", autouse=True)
def rtos_build() -> None:
    """Build libivmr.so and rtapp."""
    subprocess.run(["make", "-s", "-C", str(ROOT / "rtos")], check=True)
