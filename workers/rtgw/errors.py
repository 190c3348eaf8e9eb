"""Errors of the RT-Thread gateway.

RtgwError
 +-- LibraryError      libivmr.so missing or unusable
 +-- RegionError       the shared region cannot be opened or mapped
 +-- RingError         the ring core refused a call
      +-- RingFault    protocol error: our endpoint is FAULT and must be re-initialised
"""

from __future__ import annotations

__all__ = ["LibraryError", "RegionError", "RingError", "RingFault", "RtgwError"]


class RtgwError(Exception):
    """Base of every error raised by :mod:`workers.rtgw`."""


class LibraryError(RtgwError):
    """The C ring core could not be loaded."""


class RegionError(RtgwError):
    """The shared region could not be opened or mapped; the message says what to fix."""


class RingError(RtgwError):
    """The ring core refused a call."""


class RingFault(RingError):
    """A protocol error put our endpoint into FAULT; call ``reinit`` with a new epoch."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
