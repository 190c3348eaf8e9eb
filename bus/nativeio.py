"""A node's per-message work in C (``bus/native/build/_vbio*.so``), when it is built.

``make -C bus/native`` (run by ``make setup``) builds it. :data:`vbio` is the loaded module, or
``None`` (``why`` says why): then :mod:`bus.node` uses pyzmq's own calls and
:mod:`bus.framing` checks map keys in Python, with the same results, more slowly. Set
``VOICEBUS_NATIVE=0`` to use the Python paths even when the module is built (a comparison).

The module offers ``recv(handle)`` (one whole message without waiting: a list of bytes, None,
or an errno), ``send(handle, frames)`` (0 or an errno) and ``check_keys(buffer)`` (0 when every
msgpack map has unique str keys). It calls the libzmq that pyzmq loaded (the addresses of its
functions are handed over once), so it works on pyzmq's sockets.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import importlib.util
import os
import sysconfig
from pathlib import Path
from types import ModuleType

import zmq

from bus.nativeforward import libzmq_path

__all__ = ["MODULE", "raise_errno", "vbio", "why"]

#: Where ``make -C bus/native`` puts the module.
MODULE = (
    Path(__file__).parent / "native" / "build" / f"_vbio{sysconfig.get_config_var('EXT_SUFFIX')}"
)
_FUNCTIONS = (
    "zmq_msg_init",
    "zmq_msg_init_size",
    "zmq_msg_recv",
    "zmq_msg_send",
    "zmq_msg_close",
    "zmq_msg_size",
    "zmq_msg_data",
    "zmq_msg_more",
    "zmq_errno",
)


def _load() -> tuple[ModuleType | None, str]:
    if os.environ.get("VOICEBUS_NATIVE") == "0":
        return None, "VOICEBUS_NATIVE=0"
    if not MODULE.is_file():
        return None, f"{MODULE} is not built (run 'make -C bus/native')"
    path = libzmq_path()
    if path is None:
        return None, "pyzmq's libzmq is not a separate shared library in this process"
    try:
        lib = ctypes.CDLL(path)
        addresses = tuple(ctypes.cast(getattr(lib, f), ctypes.c_void_p).value for f in _FUNCTIONS)
        loader = importlib.machinery.ExtensionFileLoader("_vbio", str(MODULE))
        spec = importlib.util.spec_from_loader("_vbio", loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        module.init(addresses)
    except (OSError, ImportError, AttributeError) as exc:
        return None, f"{MODULE} cannot be loaded: {exc}"
    return module, ""


vbio, why = _load()


def raise_errno(errno: int) -> None:
    """Raise what pyzmq would have raised for ``errno``."""
    if errno == zmq.ETERM:
        raise zmq.ContextTerminated()
    raise zmq.ZMQError(errno)
