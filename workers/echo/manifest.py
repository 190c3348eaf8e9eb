"""The ``echo`` worker's manifest: the topics it counts are its settings' globs."""

from __future__ import annotations

from bus import Manifest
from schemas.base import Message
from schemas.registry import registry
from workers.echo.settings import EchoSettings


def _topics(settings: EchoSettings) -> tuple[dict[str, type[Message]], dict[str, type[Message]]]:
    # An exact topic carries its registered model (an unregistered one is refused as a typo).
    consumes = {t: registry.model_for(t) or Message for t in settings.topics}
    return consumes, {}


MANIFEST = Manifest(
    kind="sink",
    summary="Counts the messages of every topic it is configured with (sys.metric reports).",
    settings=EchoSettings,
    topics=_topics,
)
