"""Base class of every bus message model.

Every payload on the bus is a frozen pydantic v2 model derived from :class:`Message`. Readers
ignore fields they do not know and fill defaults for missing optional ones, so a minor schema
change is compatible both ways; a change of ``schema_version`` major is refused by readers.

A model may name one ``bytes`` field in ``raw_field``: the encoder carries that field in a
separate ZeroMQ frame (no msgpack copy of large PCM buffers), see ``docs/protocol.md``.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

__all__ = ["Message"]


class Message(BaseModel):
    """A bus payload: frozen, tolerant of unknown fields, versioned per model."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", ser_json_bytes="base64", use_attribute_docstrings=True
    )

    #: (major, minor) of this model's layout; readers refuse another major.
    schema_version: ClassVar[tuple[int, int]] = (1, 0)
    #: Name of a ``bytes`` field sent as a separate raw frame, or ``None``.
    raw_field: ClassVar[str | None] = None
