"""voicebus's transport: the proxy, frames, nodes, heartbeats; the public API for workers.

Worker authors import everything they need from here (see ``docs/writing-a-worker.md``)::

    from bus import Node, MemoryBus, Message, register_topic
"""

from bus.errors import BusError, BusTimeout, ConfigError, FrameError, SchemaError, VersionError
from bus.framing import PROTOCOL_VERSION, Envelope
from bus.memory import MemoryBus, MemoryNode
from bus.node import Node
from bus.nodeconfig import NodeConfig
from schemas.base import Message
from schemas.registry import registry


def register_topic(topic: str, model: type[Message]) -> type[Message]:
    """Register the model of a new topic ``ext.<yourname>.<event>`` (usable as a decorator)."""
    return registry.register(topic, model)


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
    "SchemaError",
    "VersionError",
    "register_topic",
]
