"""voicebus's transport: the proxy, frames, nodes, heartbeats; the public API for workers.

Worker authors import everything they need from here, and nothing from the submodules (see
``docs/writing-a-worker.md``; ``tests/test_imports.py`` fails when ``workers/`` or ``examples/``
import a submodule)::

    from bus import BusNode, Manifest, Node, Out, Tick

The names in ``__all__`` are the stable surface (pinned by ``tests/bus/test_public_api.py``):

- :class:`BusNode` is the node type a worker's functions take; :class:`Node` joins the bus
  (``Node.from_env(manifest=MANIFEST)``), :class:`MemoryBus` / :class:`MemoryNode` are the same
  API in memory for tests.
- :class:`Manifest` declares a worker's kind, topics and settings model; a node given one
  subscribes to what it consumes and refuses to publish what it does not produce
  (:class:`ManifestError`).
- The loop, ``node.events(tick_s=, skip_own=, watch=)``, yields :class:`Envelope` messages (with
  ``age_ms``), :class:`Tick` and :class:`Readable` (:data:`Event` is their union);
  :class:`Wakeup` is a descriptor a worker's own thread sets to wake the loop.
- :class:`Out` is one message to publish (``node.publish_many(outs)``).
- :class:`Message` is the base of every payload model; :func:`register_topic` registers a model
  for a new ``ext.<yourname>.<event>`` topic; :func:`payload_as` is the typed receive.
- :class:`NodeConfig` is what a node needs to join (for a node configured by hand).
- The errors: :class:`BusError` and its subclasses, and :class:`RegistryError`.
"""

from typing import TYPE_CHECKING, TypeVar

from bus.errors import BusError, BusTimeout, ConfigError, FrameError, SchemaError, VersionError
from bus.events import Event, Readable, Tick, Wakeup
from bus.framing import PROTOCOL_VERSION, Envelope
from bus.manifest import Manifest, ManifestError
from bus.memory import MemoryBus, MemoryNode
from bus.nodeapi import BusNode, Out
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
    "BusNode",
    "BusTimeout",
    "ConfigError",
    "Envelope",
    "Event",
    "FrameError",
    "Manifest",
    "ManifestError",
    "MemoryBus",
    "MemoryNode",
    "Message",
    "Node",
    "NodeConfig",
    "Out",
    "Readable",
    "RegistryError",
    "SchemaError",
    "Tick",
    "VersionError",
    "Wakeup",
    "payload_as",
    "register_topic",
]
