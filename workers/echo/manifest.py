"""The ``echo`` worker's manifest: the topics it counts are its settings' globs."""

from __future__ import annotations

from bus.manifest import Manifest, Topics
from schemas.base import Message
from schemas.registry import registry
from workers.echo.settings import EchoSettings


def _topics(settings: EchoSettings) -> tuple[Topics, Topics]:
    # An exact topic carries its registered model (an unregistered one is refused as a typo).
    consumes = {t: registry.model_for(t) or Message for t in settings.topics}
    return consumes, {}


MANIFEST = Manifest(
    kind="sink",
    summary="Counts the messages of every topic it is configured with (sys.metric reports).",
    settings=EchoSettings,
    topics=_topics,
)
