"""What a worker declares about itself: its kind, the topics it consumes and produces, its settings.

    MANIFEST = Manifest(
        kind="stage",
        summary="Speech segments in, transcripts out.",
        consumes={"vad.segment": VadSegment},
        produces={"asr.text": AsrText},
        settings=AsrSettings,
    )

A manifest is data that lives next to the worker's recipe (``workers/<name>/manifest.py``, or the
``manifest:`` of an out-of-tree worker). The supervisor reads the manifest of every worker in a
config before anything starts (``python supervisor.py check CONFIG``); the dataflow graph
(``python supervisor.py graph CONFIG``) and the topic table of ``docs/protocol.md`` are drawn from
the manifests. A manifest module imports only models (``schemas``, the settings model), never the
worker's heavy libraries, so that checking a config stays fast.

Topics are exact names or globs (``ext.spotter.*``; ``*`` for a tap-like worker). An exact topic
must be registered, to the model the manifest names. Every node also publishes
``sys.heartbeat``, ``sys.log`` and ``sys.metric`` (:data:`IMPLICIT_PRODUCES`): those are not
declared. A worker whose topics depend on its settings (``echo`` counts the globs it is configured
with) gives ``topics``: a function from its validated settings to ``(consumes, produces)``.
A gateway names what it bridges the bus to (``bridge``: the rtgw's shared-memory rings).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel

from bus.errors import ConfigError
from bus.topics import is_glob
from schemas.base import Message
from schemas.registry import Registry, registry

__all__ = ["IMPLICIT_PRODUCES", "Manifest", "ManifestError", "Topics", "WorkerKind", "is_glob"]

#: What a worker is in the dataflow: ``source`` (only produces: mic, wavsource), ``stage``
#: (consumes and produces: vad, asr, llm, dialog, tts), ``sink`` (only consumes, or produces only
#: reports: speaker, taps) and ``gateway`` (bridges the bus to something outside it: rtgw).
WorkerKind = Literal["source", "stage", "sink", "gateway"]

#: Topics every node publishes by itself (heartbeat thread, log bridge, ``node.metric``).
IMPLICIT_PRODUCES: tuple[str, ...] = ("sys.heartbeat", "sys.log", "sys.metric")

#: Topic name -> the model that travels on it (``Message`` for a glob that takes any model).
Topics = Mapping[str, type[Message]]


class ManifestError(ConfigError):
    """A manifest that contradicts the topic registry or itself; the message names the topic."""


def _frozen(topics: Topics) -> Topics:
    return MappingProxyType(dict(topics))


@dataclass(frozen=True)
class Manifest:
    """The declared dataflow and settings of one worker (see the module docstring)."""

    kind: WorkerKind
    """Where the worker sits in the dataflow."""
    summary: str
    """One line: what the worker does (shown by ``supervisor.py graph`` and in the topic table)."""
    consumes: Topics = field(default_factory=dict)
    """Topics (or globs) it subscribes to, each with the model it expects."""
    produces: Topics = field(default_factory=dict)
    """Topics it publishes, each with its model; the implicit ``sys.*`` ones are not listed."""
    settings: type[BaseModel] | None = None
    """The model of its ``settings:`` (``extra="forbid"``); ``None`` when it takes none."""
    topics: Callable[[Any], tuple[Topics, Topics]] | None = None
    """For topics that depend on settings: validated settings -> ``(consumes, produces)``."""
    bridge: str = ""
    """A gateway: what it bridges the bus to, outside the bus (``IVMR shared memory``); the graph
    draws that link to the command that declares ``link:`` to this worker, or to the outside."""

    def __post_init__(self) -> None:
        if self.bridge and self.kind != "gateway":
            raise ManifestError(
                f"Manifest of kind {self.kind!r} names a bridge ({self.bridge!r}); only a "
                "gateway bridges the bus to something outside it."
            )
        object.__setattr__(self, "consumes", _frozen(self.consumes))
        object.__setattr__(self, "produces", _frozen(self.produces))
        self.check(self.consumes, self.produces)

    def check(self, consumes: Topics, produces: Topics, reg: Registry = registry) -> None:
        """Raise :class:`ManifestError` if a topic's model disagrees with the registry."""
        for direction, topics in (("consumes", consumes), ("produces", produces)):
            for topic, model in topics.items():
                if not (isinstance(model, type) and issubclass(model, Message)):
                    raise ManifestError(
                        f"Manifest {direction} {topic!r} with {model!r}; give a schemas.Message "
                        "subclass (schemas.Message itself for a glob that takes any model)."
                    )
                if is_glob(topic):
                    if direction == "produces":
                        raise ManifestError(
                            f"Manifest produces the pattern {topic!r}; a worker publishes exact "
                            "topics, so list each one."
                        )
                    continue
                registered = reg.model_for(topic)
                if registered is None:
                    raise ManifestError(
                        f"Manifest {direction} {topic!r}, which is not a registered topic; "
                        "check the spelling or register its model (bus.register_topic)."
                    )
                if registered is not model:
                    raise ManifestError(
                        f"Manifest {direction} {topic!r} as {model.__name__}, but the topic "
                        f"carries {registered.__name__}."
                    )

    def resolve(self, settings: BaseModel | None) -> tuple[Topics, Topics]:
        """``(consumes, produces)`` for these validated settings."""
        if self.topics is None:
            return self.consumes, self.produces
        consumes, produces = self.topics(settings)
        self.check(consumes, produces)
        return _frozen(consumes), _frozen(produces)
