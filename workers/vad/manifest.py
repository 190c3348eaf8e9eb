"""The ``vad`` worker's manifest: ``audio.frame`` (and ``asr.partial``) in; ``vad.state``,
``vad.segment`` (and ``vad.partial``, ``vad.resumed``) out.

``consumes``/``produces`` are the topics of the default settings; for given settings,
``vad.partial`` and ``vad.resumed`` are produced only when they ask for partials
(``partial_after_ms``, the default, or ``partial_every_ms``) and ``asr.partial`` consumed only
when they ask for the end of turn from words (``end_of_turn``).
"""

from __future__ import annotations

from bus import Manifest
from schemas.asr import AsrPartial
from schemas.audio import AudioFrame
from schemas.base import Message
from schemas.vad import VadPartial, VadResumed, VadSegment, VadState
from workers.vad.settings import VadSettings

Topics = dict[str, type[Message]]


def _topics(s: VadSettings) -> tuple[Topics, Topics]:
    consumes: Topics = {"audio.frame": AudioFrame}
    produces: Topics = {"vad.state": VadState, "vad.segment": VadSegment}
    if s.partial_after_ms or s.partial_every_ms:
        produces["vad.partial"] = VadPartial
        produces["vad.resumed"] = VadResumed
    if s.end_of_turn is not None:
        consumes["asr.partial"] = AsrPartial
    return consumes, produces


MANIFEST = Manifest(
    kind="stage",
    summary="Finds speech in the audio: speech start/end at once, the open segment at each "
    "pause, then the closed segment.",
    consumes={"audio.frame": AudioFrame},
    produces={
        "vad.state": VadState,
        "vad.segment": VadSegment,
        "vad.partial": VadPartial,
        "vad.resumed": VadResumed,
    },
    settings=VadSettings,
    topics=_topics,
)
