"""Keyword spotter: an out-of-tree worker that watches transcripts for command words.

Consumes ``asr.text``; produces ``ext.spotter.keyword`` (one message per keyword found, in the
order they were said, with the transcript's trace id).

Settings (``settings:`` of its worker entry)::

    keywords: [stop, lights on, lights off]   # phrases, matched as whole words, any case

Run it under a running supervisor with
``python supervisor.py add examples/keyword_spotter/worker.yaml``, or by hand with
``VOICEBUS_NAME=spotter python spotter.py`` (see ``docs/writing-a-worker.md``). What it
declares (its message, its settings, its topics) is in ``spotter_manifest.py``. It imports
nothing from voicebus but the public API (``bus``), the ``asr.text`` model and
``workers.runner`` (the exit codes the supervisor understands).
"""

from __future__ import annotations

import logging
import re
import sys

from spotter_manifest import MANIFEST, KeywordSpotted, Settings

from bus import BusNode, payload_as
from schemas import AsrText
from workers.runner import run_worker

__all__ = ["KeywordSpotted", "Settings", "main", "normalise", "run", "spot"]

log = logging.getLogger("spotter")


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


def run(node: BusNode) -> None:
    """The loop: each transcript in, one message per keyword found out."""
    settings = node.settings_as(Settings)
    node.ready()
    log.info("spotting keywords=%s", settings.keywords)
    for msg in node.events():
        asr = payload_as(msg, AsrText)
        for keyword, position in spot(asr.text, settings.keywords):
            log.info("keyword_spotted keyword=%r segment=%s", keyword, asr.segment_id)
            spotted = KeywordSpotted(
                keyword=keyword, position=position, text=asr.text, segment_id=asr.segment_id
            )
            node.publish("ext.spotter.keyword", spotted, trace=msg.trace)


def main() -> int:
    """Join the bus as the manifest says and spot until SIGTERM (exit 2: invalid settings)."""
    return run_worker(MANIFEST, run)


if __name__ == "__main__":
    sys.exit(main())
