"""Keyword spotter: an out-of-tree worker that watches transcripts for command words.

Consumes ``asr.text``; produces ``ext.spotter.keyword`` (one message per keyword found, in the
order they were said, with the transcript's trace id).

Settings (``settings:`` of its worker entry)::

    keywords: [stop, lights on, lights off]   # phrases, matched as whole words, any case

Run it under a running supervisor with
``python supervisor.py add examples/keyword_spotter/worker.yaml``, or by hand with
``VOICEBUS_NAME=spotter python spotter.py`` (see ``docs/writing-a-worker.md``).
It imports nothing from voicebus but the public API (``bus``) and the ``asr.text`` model.
"""

from __future__ import annotations

import logging
import re
import sys

from pydantic import BaseModel, ConfigDict, Field

from bus import MemoryNode, Message, Node, payload_as, register_topic
from schemas import AsrText

log = logging.getLogger("spotter")


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


_NOT_WORD = re.compile(r"[^\w]+")


def normalise(text: str) -> str:
    """Lowercase, punctuation to spaces, runs of spaces to one."""
    return _NOT_WORD.sub(" ", text.lower()).strip()


def _pattern(keyword: str) -> re.Pattern[str]:
    words = normalise(keyword)
    # Latin words need word boundaries ("stop" is not in "stopwatch"); CJK text has no spaces,
    # so a boundary is only required where the keyword starts or ends with an ASCII word character.
    head = r"(?<![a-z0-9_])" if words[:1].isascii() else ""
    tail = r"(?![a-z0-9_])" if words[-1:].isascii() else ""
    return re.compile(head + re.escape(words) + tail)


def spot(text: str, keywords: list[str]) -> list[tuple[str, int]]:
    """The (keyword, position) pairs found in ``text``, by position; a keyword may repeat."""
    clean = normalise(text)
    hits = [
        (kw, m.start()) for kw in keywords if normalise(kw) for m in _pattern(kw).finditer(clean)
    ]
    return sorted(hits, key=lambda hit: (hit[1], hit[0]))


def run(node: Node | MemoryNode, settings: Settings) -> None:
    """The loop: each transcript in, one message per keyword found out."""
    node.subscribe("asr.text")
    node.ready()
    log.info("spotting keywords=%s", settings.keywords)
    for msg in node:
        asr = payload_as(msg, AsrText)
        for keyword, position in spot(asr.text, settings.keywords):
            log.info("keyword_spotted keyword=%r segment=%s", keyword, asr.segment_id)
            spotted = KeywordSpotted(
                keyword=keyword, position=position, text=asr.text, segment_id=asr.segment_id
            )
            node.publish("ext.spotter.keyword", spotted, trace=msg.trace)


def main() -> int:
    """Join the bus and spot until SIGTERM; exit non-zero on an unexpected error."""
    node = Node.from_env()
    try:
        run(node, node.settings_as(Settings))
    except Exception:
        log.exception("spotter_failed")
        return 1
    finally:
        node.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
