"""The recording file format of ``bus.taps.record`` and ``bus.taps.replay`` (``docs/taps.md``).

A recording is a plain msgpack stream (objects one after another, no outer container):

1. a **header** map::

       {"format": "voicebus-record", "version": 1, "protocol": [1, 0],
        "created_unix": 1732230000.5, "start_ns": <monotonic ns>, "recorder": "record",
        "host": "rock5b", "topics": ["*"]}

2. one **record** per received message, an array ``[recv_ns, [frame, frame, ...]]``: the
   monotonic time (ns) at which the recorder received it and the ZeroMQ frames exactly as they
   travelled (bin), ``[topic, envelope]`` or ``[topic, envelope, raw]`` (``docs/protocol.md``).
   Malformed frames are recorded too, unchanged.

3. optionally a **trailer** map written on a clean stop::

       {"end_ns": <monotonic ns>, "records": 1234, "lost": 0, "gaps": 0, "malformed": 0}

A file cut short (the recorder was killed) is readable up to its last complete record. Records
are maps or arrays, so a reader tells them apart by type; readers ignore unknown header keys.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import msgpack

from bus.errors import BusError
from bus.framing import PROTOCOL_VERSION

__all__ = ["FORMAT", "VERSION", "RecordWriter", "Recording", "RecordingError", "read"]

FORMAT = "voicebus-record"
VERSION = 1


class RecordingError(BusError):
    """A file that is not a voicebus recording, or of a version this reader does not know."""


class RecordWriter:
    """Appends records to a new recording file."""

    def __init__(self, path: Path, topics: list[str], recorder: str, *, overwrite: bool) -> None:
        if path.exists() and not overwrite:
            raise RecordingError(
                f"{path} already exists; choose another file name or pass --force to replace it."
            )
        self.path = path
        self.records = 0
        self._file: BinaryIO = open(path, "wb")  # noqa: SIM115 (closed in close())
        self._packer = msgpack.Packer(use_bin_type=True)
        self._file.write(
            self._packer.pack(
                {
                    "format": FORMAT,
                    "version": VERSION,
                    "protocol": list(PROTOCOL_VERSION),
                    "created_unix": time.time(),
                    "start_ns": time.monotonic_ns(),
                    "recorder": recorder,
                    "host": socket.gethostname(),
                    "topics": topics,
                }
            )
        )

    def write(self, recv_ns: int, frames: list[bytes]) -> None:
        """Append one record."""
        self._file.write(self._packer.pack([recv_ns, frames]))
        self.records += 1

    def flush(self) -> None:
        """Push buffered records to the file."""
        self._file.flush()

    def close(self, **trailer: int) -> None:
        """Write the trailer (``lost``, ``gaps``, ... counts) and close the file."""
        if self._file.closed:
            return
        self._file.write(
            self._packer.pack({"end_ns": time.monotonic_ns(), "records": self.records, **trailer})
        )
        self._file.close()


@dataclass
class Recording:
    """An opened recording: its header, then :meth:`records` to iterate."""

    path: Path
    header: dict[str, Any]
    trailer: dict[str, Any] = field(default_factory=dict)
    truncated: bool = False
    """True when the file ended in the middle of a record (the recorder was killed)."""
    skipped: int = 0
    """Objects that were neither a record nor the trailer (skipped)."""

    def records(self) -> Iterator[tuple[int, list[bytes]]]:
        """``(recv_ns, frames)`` of every record, in file order."""
        with open(self.path, "rb") as f:
            unpacker = msgpack.Unpacker(f, raw=False, strict_map_key=False, max_buffer_size=0)
            next(unpacker)  # the header, checked by read()
            try:
                for obj in unpacker:
                    if isinstance(obj, dict):
                        self.trailer = obj
                    elif (
                        isinstance(obj, list)
                        and len(obj) == 2
                        and isinstance(obj[0], int)
                        and isinstance(obj[1], list)
                        and all(isinstance(x, bytes) for x in obj[1])
                    ):
                        yield obj[0], obj[1]
                    else:
                        self.skipped += 1
            except (msgpack.OutOfData, ValueError):
                self.truncated = True
            else:
                # iteration also ends quietly at a partial last object
                self.truncated = unpacker.tell() < self.path.stat().st_size


def read(path: Path) -> Recording:
    """Open ``path`` and check its header; raise :class:`RecordingError` if it is not ours."""
    try:
        with open(path, "rb") as f:
            unpacker = msgpack.Unpacker(f, raw=False, strict_map_key=False, max_buffer_size=0)
            header = next(unpacker)
    except FileNotFoundError as exc:
        raise RecordingError(f"{path} does not exist.") from exc
    except (StopIteration, msgpack.OutOfData, ValueError) as exc:
        raise RecordingError(f"{path} is empty or not a voicebus recording.") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise RecordingError(
            f"{path} is not a voicebus recording (no '{FORMAT}' header); record one with "
            "'python -m bus.taps.record FILE'."
        )
    if header.get("version") != VERSION:
        raise RecordingError(
            f"{path} is a version {header.get('version')} recording; this replayer reads "
            f"version {VERSION} only."
        )
    return Recording(path, header)
