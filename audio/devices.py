"""PortAudio devices through pyaudio: listing, choosing by name or index, supported rates.

Every failure is an :class:`AudioDeviceError` whose message names the devices that do exist, so a
wrong name in the configuration is fixed by reading the error.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "AudioDeviceError",
    "DeviceInfo",
    "find_device",
    "format_devices",
    "list_devices",
    "open_pyaudio",
    "supported_rate",
]

Direction = Literal["input", "output"]


class AudioDeviceError(Exception):
    """No usable audio device (missing, busy, or without the wanted format)."""


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device."""

    index: int
    name: str
    max_input_channels: int
    max_output_channels: int
    default_rate_hz: int
    host_api: str

    def channels(self, direction: Direction) -> int:
        """Channels available in ``direction``."""
        return self.max_input_channels if direction == "input" else self.max_output_channels


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    # ALSA and JACK print dozens of harmless lines on fd 2 while PortAudio probes devices.
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def open_pyaudio(quiet: bool = True) -> Any:
    """A ``pyaudio.PyAudio`` instance (PortAudio initialised), its start-up noise silenced."""
    try:
        import pyaudio
    except ImportError as exc:
        raise AudioDeviceError(
            "pyaudio is not installed; install portaudio19-dev (Debian) and then "
            "'pip install pyaudio'."
        ) from exc
    if not quiet:
        return pyaudio.PyAudio()
    with _quiet_stderr():
        return pyaudio.PyAudio()


def list_devices(pa: Any) -> list[DeviceInfo]:
    """Every device PortAudio knows."""
    out = []
    for i in range(pa.get_device_count()):
        d = pa.get_device_info_by_index(i)
        api = pa.get_host_api_info_by_index(d["hostApi"])["name"]
        out.append(
            DeviceInfo(
                i,
                str(d["name"]),
                int(d["maxInputChannels"]),
                int(d["maxOutputChannels"]),
                int(d["defaultSampleRate"]),
                str(api),
            )
        )
    return out


def format_devices(devices: list[DeviceInfo], direction: Direction | None = None) -> str:
    """A readable table of devices (only those usable in ``direction`` when given)."""
    rows = [d for d in devices if direction is None or d.channels(direction) > 0]
    if not rows:
        what = f"{direction} " if direction else ""
        return f"(no {what}audio devices: PortAudio found no sound card)"
    lines = [f"{'idx':>3}  {'in':>3} {'out':>3}  {'rate':>6}  name"]
    for d in rows:
        lines.append(
            f"{d.index:>3}  {d.max_input_channels:>3} {d.max_output_channels:>3}  "
            f"{d.default_rate_hz:>6}  {d.name} ({d.host_api})"
        )
    return "\n".join(lines)


def find_device(pa: Any, spec: str | int | None, direction: Direction) -> DeviceInfo:
    """The device named by ``spec``: an index, a case-insensitive name substring, or the default."""
    devices = list_devices(pa)
    usable = [d for d in devices if d.channels(direction) > 0]
    known = format_devices(devices, direction)
    if spec is None or spec == "":
        try:
            info = (
                pa.get_default_input_device_info()
                if direction == "input"
                else pa.get_default_output_device_info()
            )
        except OSError as exc:
            raise AudioDeviceError(
                f"There is no default {direction} device. Set 'device' to one of these:\n{known}"
            ) from exc
        return next(d for d in devices if d.index == int(info["index"]))
    if isinstance(spec, int) or spec.isdigit():
        idx = int(spec)
        match = [d for d in usable if d.index == idx]
        if not match:
            raise AudioDeviceError(
                f"There is no {direction} device with index {idx}. The {direction} devices are:"
                f"\n{known}"
            )
        return match[0]
    needle = spec.lower()
    match = [d for d in usable if needle in d.name.lower()]
    exact = [d for d in match if d.name.lower() == needle]
    if exact:
        return exact[0]
    if len(match) == 1:
        return match[0]
    if not match:
        raise AudioDeviceError(
            f"No {direction} device name contains {spec!r}. The {direction} devices are:\n{known}"
        )
    names = ", ".join(repr(d.name) for d in match)
    raise AudioDeviceError(
        f"Several {direction} devices match {spec!r} ({names}); give a longer part of the name "
        f"or the index. The {direction} devices are:\n{known}"
    )


def supported_rate(
    pa: Any, device: DeviceInfo, channels: int, direction: Direction, rates: list[int]
) -> int:
    """The first of ``rates`` the device accepts for int16 audio with ``channels`` channels."""
    import pyaudio

    for rate in rates:
        kw: dict[str, Any] = (
            {
                "input_device": device.index,
                "input_channels": channels,
                "input_format": pyaudio.paInt16,
            }
            if direction == "input"
            else {
                "output_device": device.index,
                "output_channels": channels,
                "output_format": pyaudio.paInt16,
            }
        )
        try:
            with _quiet_stderr():
                if pa.is_format_supported(rate, **kw):
                    return rate
        except ValueError:
            continue
    raise AudioDeviceError(
        f"Device {device.name!r} supports none of the sample rates {rates} Hz with {channels} "
        f"channel(s) of 16-bit audio; choose another device or set 'capture_rate_hz'."
    )
