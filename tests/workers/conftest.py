"""Fixtures shared by the worker tests: ``proxy``, a real proxy process (see tests/bus)."""

from tests.bus.conftest import proxy

__all__ = ["proxy"]
