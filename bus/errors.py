"""Errors of the bus package.

BusError
 +-- FrameError            a frame that cannot be decoded (counted and dropped by nodes)
 |    +-- VersionError     a protocol or schema major version this reader does not speak
 |    +-- SchemaError      a payload that does not validate against its topic's model
 |    +-- LostError        a payload overwritten in shared memory before it was read (a gap)
 +-- ConfigError           a node, proxy or endpoint configuration that cannot work
 +-- BusTimeout            the bus did not answer in time (handshake, control request)
"""

from __future__ import annotations

__all__ = [
    "BusError",
    "BusTimeout",
    "ConfigError",
    "FrameError",
    "LostError",
    "SchemaError",
    "VersionError",
]


class BusError(Exception):
    """Base of every error raised by :mod:`bus`."""


class FrameError(BusError):
    """A frame could not be decoded; the reason says which part is wrong."""


class VersionError(FrameError):
    """The frame was written with a major version this reader refuses."""


class SchemaError(FrameError):
    """The payload does not match the model registered for its topic."""


class LostError(FrameError):
    """The payload was overwritten in its publisher's shared-memory ring before this reader
    took it: the reader was too slow; counted as lost, like a sequence gap."""

    def __init__(self, reason: str, stream: tuple[str, int, str, int] | None = None) -> None:
        super().__init__(reason)
        self.stream = stream
        """``(source, instance, topic, seq)`` of the lost message, when its envelope was read
        (so that a reader counts it once, not again as a sequence gap)."""


class ConfigError(BusError):
    """A configuration that cannot work; the message says what to change."""


class BusTimeout(BusError):
    """The bus did not answer in time."""
