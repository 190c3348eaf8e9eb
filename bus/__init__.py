"""voicebus's transport: the proxy, frames, nodes, heartbeats; the public API for workers.

Worker authors import everything they need from here, and nothing from the submodules (see
``docs/writing-a-worker.md``)::

    from bus import Message, Node, payload_as, register_topic

The names in ``__all__`` are the stable surface (pinned by ``tests/bus/test_public_api.py``):

- :class:`Node` joins the bus (``Node.from_env()``), :class:`MemoryBus` / :class:`MemoryNode`
  are the same API in memory for tests; both yield :class:`Envelope` objects.
- :class:`Message` is the base of every payload model; :func:`register_topic` registers a model
  for a new ``ext.<yourname>.<event>`` topic; :func:`payload_as` is the typed receive.
- :class:`NodeConfig` is what a node needs to join (for a node configured by hand).
- The errors: :class:`BusError` and its subclasses, and :class:`RegistryError`.
"""

from typing import TYPE_CHECKING, TypeVar

from bus.errors import BusError, BusTimeout, ConfigError, FrameError, SchemaError, VersionError
from bus.framing import PROTOCOL_VERSION, Envelope
from bus.memory import MemoryBus, MemoryNode
from bus.nodeconfig import NodeConfig
from schemas.base import Message
from schemas.registry import RegistryError, registry

if TYPE_CHECKING:
    from bus.node import Node

M = TypeVar("M", bound=Message)


def __getattr__(name: str) -> object:
    # Node (and with it bus.curve) is imported on first use, so that ``python -m bus.curve``
    # does not find its own module already imported by the package (runpy warns about that).
    if name == "Node":
        from bus.node import Node

        return Node
    raise AttributeError(f"module 'bus' has no attribute {name!r}")


def register_topic(topic: str, model: type[M]) -> type[M]:
    """Register the model of a new topic ``ext.<yourname>.<event>``.

    Raises :class:`RegistryError` for a core topic name (``asr.text``, ``sys.*``, ...), a name
    outside ``ext.``, or a topic already registered to another model.
    """
    registry.register(topic, model)
    return model


def payload_as(msg: Envelope, model: type[M]) -> M:
    """The payload of ``msg`` as a ``model`` instance, or :class:`SchemaError` saying why not.

    A registered topic already arrives as its model; a topic this process has not registered
    arrives as a plain map and is validated here (unknown fields ignored, defaults filled).
    """
    payload = msg.payload
    if isinstance(payload, model):
        return payload
    if isinstance(payload, Message):
        raise SchemaError(
            f"Message on {msg.topic!r} carries {type(payload).__name__}, not {model.__name__}; "
            "check which topics this loop subscribes to."
        )
    if msg.schema_version[0] != model.schema_version[0]:
        raise VersionError(
            f"Message on {msg.topic!r} from {msg.source!r} has schema {msg.schema_version[0]}."
            f"{msg.schema_version[1]}; {model.__name__} is {model.schema_version[0]}.x."
        )
    try:
        return model.model_validate(payload)
    except ValueError as exc:
        raise SchemaError(
            f"Message on {msg.topic!r} from {msg.source!r} does not match {model.__name__}: {exc}"
        ) from exc


__all__ = [
    "PROTOCOL_VERSION",
    "BusError",
    "BusTimeout",
    "ConfigError",
    "Envelope",
    "FrameError",
    "MemoryBus",
    "MemoryNode",
    "Message",
    "Node",
    "NodeConfig",
    "RegistryError",
    "SchemaError",
    "VersionError",
    "payload_as",
    "register_topic",
]
