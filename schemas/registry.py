"""The one registry mapping a topic name to its message model.

Core topics are registered by the domain modules of :mod:`schemas`; code outside the repository
registers its own models under ``ext.<name>.`` (see ``docs/writing-a-worker.md``). A topic can be
registered once; registering a core topic name from outside is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from schemas.base import Message

__all__ = ["CORE_PREFIXES", "EXT_PREFIX", "Registry", "RegistryError", "registry"]

#: Topic families owned by voicebus itself.
CORE_PREFIXES = ("audio.", "vad.", "asr.", "llm.", "dialog.", "tts.", "speaker.", "rtos.", "sys.")
#: Prefix for topics registered from outside the repository.
EXT_PREFIX = "ext."

_TOPIC_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_\-]+)+$")


class RegistryError(ValueError):
    """A topic or model was registered in a way the registry refuses."""


class Registry:
    """Topic name -> message model."""

    def __init__(self) -> None:
        self._models: dict[str, type[Message]] = {}

    def register(self, topic: str, model: type[Message], *, core: bool = False) -> type[Message]:
        """Register ``model`` for ``topic``; ``core`` is for voicebus's own schemas only."""
        if not _TOPIC_RE.match(topic):
            raise RegistryError(
                f"Topic {topic!r} is not a valid name: use lowercase dotted words "
                "such as 'ext.myworker.event'."
            )
        if not (isinstance(model, type) and issubclass(model, Message)):
            raise RegistryError(
                f"Model for topic {topic!r} must be a subclass of schemas.Message, got {model!r}."
            )
        if core:
            if not topic.startswith(CORE_PREFIXES):
                raise RegistryError(f"Core topic {topic!r} must start with one of {CORE_PREFIXES}.")
        elif not topic.startswith(EXT_PREFIX):
            owner = "a core voicebus topic" if topic.startswith(CORE_PREFIXES) else "not namespaced"
            raise RegistryError(
                f"Topic {topic!r} is {owner}; topics registered outside voicebus must be named "
                f"'{EXT_PREFIX}<yourname>.<event>'."
            )
        existing = self._models.get(topic)
        if existing is not None and existing is not model:
            raise RegistryError(
                f"Topic {topic!r} is already registered to {existing.__module__}."
                f"{existing.__qualname__}; pick another name."
            )
        if model.raw_field is not None:
            field = model.model_fields.get(model.raw_field)
            if field is None or field.annotation is not bytes:
                raise RegistryError(
                    f"{model.__qualname__}.raw_field names {model.raw_field!r}, "
                    "which must be a bytes field of the model."
                )
        self._models[topic] = model
        return model

    def model_for(self, topic: str) -> type[Message] | None:
        """The model registered for ``topic``, or ``None``."""
        return self._models.get(topic)

    def __contains__(self, topic: object) -> bool:
        return topic in self._models

    def __iter__(self) -> Iterator[tuple[str, type[Message]]]:
        return iter(sorted(self._models.items()))

    def __len__(self) -> int:
        return len(self._models)


#: The process-wide registry.
registry = Registry()
