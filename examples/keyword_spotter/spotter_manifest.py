"""The keyword spotter's manifest: ``asr.text`` in, ``ext.spotter.keyword`` out.

An out-of-tree worker names its manifest module in its worker entry (``manifest:
spotter_manifest`` in ``worker.yaml``); the supervisor imports it from the worker's ``cwd``
before anything starts, to check the settings and the dataflow. Keep it light: it holds the
worker's message model and settings class (the recipe ``spotter.py`` imports them from here, so
that ``python -m spotter`` does not define them twice), never what the loop needs to run.
"""

from pydantic import BaseModel, ConfigDict, Field

from bus import Manifest, Message, register_topic
from schemas import AsrText


class KeywordSpotted(Message):
    """A configured keyword was heard (topic ``ext.spotter.keyword``)."""

    keyword: str
    """The keyword as configured."""
    position: int
    """Character offset of the keyword in the normalised transcript (lowercase, no punctuation)."""
    text: str
    """The whole transcript the keyword was found in."""
    segment_id: str
    """Id of the speech segment (the turn's trace id)."""


register_topic("ext.spotter.keyword", KeywordSpotted)


class Settings(BaseModel):
    """The spotter's ``settings``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    keywords: list[str] = Field(default=["stop", "lights on", "lights off"], min_length=1)
    """Phrases to spot, matched as whole words regardless of case and punctuation."""


MANIFEST = Manifest(
    kind="stage",
    summary="Watches transcripts for configured command words.",
    consumes={"asr.text": AsrText},
    produces={"ext.spotter.keyword": KeywordSpotted},
    settings=Settings,
)
