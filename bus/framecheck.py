"""The reader's rules of ``docs/protocol.md`` (section 3), and the exact reason for a refusal.

:func:`bus.framing.decode` runs cheap exact type tests on every message; only a frame that fails
them comes here to be told precisely which rule it breaks. Each reason ends with the rule's id
(``rule E9``) so a developer of an outside publisher finds it on the page.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bus.errors import FrameError, VersionError

__all__ = [
    "MAX_ENVELOPE_BYTES",
    "MAX_INSTANCE",
    "MAX_RAW_BYTES",
    "REQUIRED_KEYS",
    "check_envelope",
    "check_schema_version",
    "check_version",
    "msgpack_reason",
    "msgpack_type",
    "refuse",
    "unique_map",
]

#: Largest envelope frame a reader accepts (large binary data belongs in the raw frame), bytes.
MAX_ENVELOPE_BYTES = 4 * 1024 * 1024
#: Largest raw frame a reader accepts, bytes.
MAX_RAW_BYTES = 64 * 1024 * 1024
#: ``inst`` is a u32.
MAX_INSTANCE = 2**32 - 1
#: Keys every envelope carries (``sv`` and ``raw`` are optional).
REQUIRED_KEYS = ("v", "src", "inst", "seq", "ts", "tr", "p")


def refuse(rule: str, reason: str) -> FrameError:
    """A :class:`FrameError` whose message names the rule of the page it breaks."""
    return FrameError(f"{reason} (docs/protocol.md rule {rule})")


def unique_map(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """``object_pairs_hook`` of the unpacker: a dict, refusing repeated and non-string keys."""
    d = dict(pairs)
    if len(d) != len(pairs):
        dup = next(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
        raise refuse(
            "E4",
            f"a msgpack map in the envelope has the key {_show(dup)} twice; every "
            "key of a map must be unique",
        )
    try:
        # str.join walks the keys in C and fails on the first that is not a str: far cheaper
        # per message than a Python loop; the unpacker already refuses keys other than str/bin.
        "".join(d)
    except TypeError:
        bad = next(k for k in d if type(k) is not str)
        raise refuse(
            "E3",
            f"a msgpack map in the envelope has the key {_show(bad)}, which is not a "
            "msgpack str; every map key must be a string",
        ) from None
    return d


_MSGPACK_REASONS = {
    "ExtraData": "bytes follow the first msgpack object (an envelope is exactly one map)",
    "FormatError": "it contains the byte 0xc1, which starts no msgpack type",
    "StackError": "its arrays or maps nest deeper than this reader allows",
    "UnicodeDecodeError": "a msgpack str in it is not valid UTF-8",
}


def msgpack_reason(exc: Exception) -> FrameError:
    """The refusal (rule E1 or E3) for an exception the msgpack unpacker raised."""
    name = type(exc).__name__
    text = str(exc)
    if name in _MSGPACK_REASONS:
        why = _MSGPACK_REASONS[name]
    elif "incomplete input" in text:
        why = "it ends in the middle of a value (truncated)"
    elif "not allowed for map key" in text:
        return refuse(
            "E3", f"a msgpack map in the envelope has a key that is not a string ({text})"
        )
    elif "exceeds max_" in text:
        why = f"a length in it is larger than the frame ({text})"
    else:
        why = f"{name}: {text}" if text else name
    return refuse("E1", f"the envelope is not valid msgpack: {why}")


def _is_uint(x: Any) -> bool:
    return type(x) is int and x >= 0


def check_version(value: Any, topic: str, src: Any) -> tuple[int, int]:
    """``v``: an array of 2 unsigned integers whose major is 1 (rules E6, V1)."""
    if type(value) is list and value and _is_uint(value[0]) and value[0] != 1:
        # any other major, whatever its shape, is refused loudly as a version
        shown = ".".join(_show(x) for x in value[:2])
        raise VersionError(
            f"frame on {topic!r:.60} from {src!r:.60} uses protocol {shown}; this reader "
            "speaks 1.x (docs/protocol.md rule V1)"
        )
    if type(value) is not list or len(value) != 2 or not all(_is_uint(x) for x in value):
        raise refuse(
            "E6",
            f"envelope key 'v' is {_show(value)}; it must be an array of 2 unsigned "
            "integers [major, minor], now [1, 0]",
        )
    return (value[0], value[1])


def check_schema_version(value: Any) -> tuple[int, int]:
    """``sv``, when present: an array of 2 unsigned integers (rule E13)."""
    if type(value) is not list or len(value) != 2 or not all(_is_uint(x) for x in value):
        raise refuse(
            "E13",
            f"envelope key 'sv' is {_show(value)}; it must be an array of 2 unsigned "
            "integers [major, minor], or be left out for [1, 0]",
        )
    return (value[0], value[1])


def _show(value: Any) -> str:
    """``repr`` cut to a log line's worth (a bad field can be megabytes long)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


_MSGPACK_TYPES = {list: "array", dict: "map", bytes: "bin", type(None): "nil"}


def msgpack_type(value: Any) -> str:
    """The msgpack name of a decoded value's type (array, map, bin, nil, str, int, ...)."""
    return _MSGPACK_TYPES.get(type(value), type(value).__name__)


def _kind(value: Any) -> str:
    return f"{_show(value)} ({msgpack_type(value)})"


def check_envelope(env: dict[str, Any], topic: str) -> None:
    """Raise the precise refusal for an envelope that failed the fast checks of ``decode``."""
    if "v" in env:  # first: a frame of another major may lack what 1.x requires
        check_version(env["v"], topic, env.get("src"))
    missing = [k for k in REQUIRED_KEYS if k not in env]
    if missing:
        raise refuse(
            "E5",
            f"envelope has no {', '.join(repr(k) for k in missing)}; required "
            f"keys are {', '.join(REQUIRED_KEYS)}",
        )
    src, inst, seq, ts = env["src"], env["inst"], env["seq"], env["ts"]
    if type(src) is not str or not src:
        raise refuse(
            "E7",
            f"envelope key 'src' is {_kind(src)}; it must be the publishing "
            "worker's name, a non-empty string",
        )
    if type(inst) is not int or not 0 <= inst <= MAX_INSTANCE:
        raise refuse(
            "E8",
            f"envelope key 'inst' is {_kind(inst)}; it must be an unsigned "
            f"integer from 0 to {MAX_INSTANCE} (u32)",
        )
    if type(seq) is not int or seq < 1:
        raise refuse(
            "E9",
            f"envelope key 'seq' is {_kind(seq)}; it must be an integer from 1 "
            "(the first message of a socket on a topic is 1)",
        )
    if type(ts) is not int:
        raise refuse(
            "E10", f"envelope key 'ts' is {_kind(ts)}; it must be an integer (CLOCK_MONOTONIC, ns)"
        )
    if type(env["tr"]) is not str:
        raise refuse(
            "E11",
            f"envelope key 'tr' is {_kind(env['tr'])}; it must be a string "
            '(the trace id, or "" outside a turn)',
        )
    if type(env["p"]) is not dict:
        raise refuse(
            "E12",
            f"envelope key 'p' is {_kind(env['p'])}; it must be a map of the payload's fields",
        )
    raise AssertionError(f"check_envelope found nothing wrong in {env!r}")  # pragma: no cover
