"""Asking the LLM early: with the transcript of the pause, before the segment closes.

When the user's speech pauses, the ASR's speculative transcript (``asr.partial``) arrives while
the VAD still waits out its hangover. If that transcript would go to the LLM (the assistant is
awake or it holds the wake phrase, and it is not a device question or a car command), the
question is sent at once (request id ``<segment>~<revision>``), so the reply's first tokens are
being generated during the wait instead of after it. Nothing is spoken yet: the deltas are
held. When the segment's transcript (``asr.text``) comes:

- the same words (the segment closed with the speech of that pause): the turn takes the
  request over, the held deltas are handled as if they had just arrived, and the first clause
  goes to the TTS at once;
- other words (the user went on), or a newer pause: the early request is aborted
  (``llm.abort``) and forgotten; the turn asks again as usual.

It is aborted sooner when the VAD says the speech went on after that pause (``vad.resumed``),
and not sent at all when that came before the pause's transcript (the user said the next word
while the ASR decoded): its transcript can no longer be the segment's, and on two cores the
generation it would go on with takes the CPU from the transcript of what the user says next (a
stop word among it: "No no no, | stop!" waited about 950 ms for its STOP,
``bench/results/e2e_1906.json``).

The user never hears an answer to something they did not finish saying; the cost of a wrong
guess is one aborted generation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bus import Envelope, Out
from schemas.asr import AsrPartial
from schemas.llm import LlmAbort, LlmDelta, LlmReply
from schemas.vad import VadResumed

if TYPE_CHECKING:
    from workers.dialog.manager import TurnManager
    from workers.dialog.turn import Turn

__all__ = ["Early", "abandon", "adopt", "hold", "resumed", "start", "superseded"]

log = logging.getLogger("workers.dialog.early")


@dataclass
class Early:
    """A request sent with a pause's transcript, its output held until the segment closes."""

    segment_id: str
    revision: int
    heard: str
    """The transcript it asks about, as the ASR wrote it."""
    request_id: str
    held: list[tuple[LlmDelta | LlmReply, Envelope]] = field(default_factory=list)


def start(m: TurnManager, p: AsrPartial, question: str, out: list[Out]) -> None:
    """Ask the LLM ``question`` (what ``p`` would be asked about) before the segment closes."""
    from workers.dialog.answering import llm_request  # the one place a request is built

    abandon(m, out, reason="newer pause")
    request_id = f"{p.segment_id}~{p.revision}"
    out.append(Out("llm.request", llm_request(m, question, request_id), p.segment_id))
    m.early = Early(p.segment_id, p.revision, p.text.strip(), request_id)
    log.info("early_request segment=%s rev=%d text=%r", p.segment_id, p.revision, question)


def hold(m: TurnManager, p: LlmDelta | LlmReply, msg: Envelope) -> bool:
    """Keep output of the early request until the segment closes; True when it was ours."""
    e = m.early
    if e is None or p.request_id != e.request_id:
        return False
    e.held.append((p, msg))
    return True


def adopt(m: TurnManager, t: Turn, heard: str, out: list[Out]) -> Early | None:
    """The early request of ``t``'s segment if it asked about exactly ``heard`` (it is then the
    turn's, its held output to be handled now); otherwise it is aborted and None returned."""
    e = m.early
    if e is None or e.segment_id != t.turn_id:
        return None
    m.early = None
    if e.heard != heard.strip():
        out.append(Out("llm.abort", LlmAbort(request_id=e.request_id, reason="more"), t.turn_id))
        log.info("early_dropped segment=%s heard=%r final=%r", t.turn_id, e.heard, heard)
        return None
    t.request_id = e.request_id
    return e


_KEEP_SEGMENTS = 8
"""Segments whose latest resumption is remembered."""


def resumed(m: TurnManager, p: VadResumed, out: list[Out]) -> None:
    """The speech went on after pause ``p.revision``: abort the early request about it (or an
    older pause of the segment); one about a later pause, or another segment, is kept. It is
    remembered, as the pause's transcript often comes after it (the user said the next word
    while the ASR decoded): :func:`superseded`."""
    m.resumed[p.segment_id] = max(p.revision, m.resumed.pop(p.segment_id, -1))
    while len(m.resumed) > _KEEP_SEGMENTS:
        m.resumed.pop(next(iter(m.resumed)))
    e = m.early
    if e is None or e.segment_id != p.segment_id or e.revision > p.revision:
        return
    log.info("early_dropped segment=%s heard=%r: the speech went on", e.segment_id, e.heard)
    abandon(m, out, reason="speech resumed")


def superseded(m: TurnManager, p: AsrPartial) -> bool:
    """Whether the speech went on after the pause ``p`` is the transcript of (it is then not
    asked early: its words cannot be the segment's)."""
    return m.resumed.get(p.segment_id, -1) >= p.revision


def abandon(m: TurnManager, out: list[Out], *, reason: str) -> None:
    """Abort the early request, if any."""
    e = m.early
    if e is None:
        return
    m.early = None
    out.append(Out("llm.abort", LlmAbort(request_id=e.request_id, reason=reason), e.segment_id))
