"""Errors of the supervisor.

SupervisionError
 +-- ConfigError        a supervisor config (file, snippet, CPU set) that cannot work
 +-- ControlError       a control request that failed (no supervisor, bad command, refused)
"""

from __future__ import annotations

from bus.errors import ConfigError as BusConfigError

__all__ = ["ConfigError", "ControlError", "SupervisionError"]


class SupervisionError(Exception):
    """Base of every error raised by :mod:`supervision`."""


class ConfigError(SupervisionError, BusConfigError):
    """A configuration that cannot work; the message names the key and says what to change."""


class ControlError(SupervisionError):
    """A control request failed; the message says why and what to do."""
