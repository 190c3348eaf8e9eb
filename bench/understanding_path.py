"""The dialog's path for the understanding bench: the functions the dialog calls, in order.

:class:`DialogPath` is what the dialog does with a transcript, awake: the transcript reread
(``workers.dialog.stopping.heard_words``: a repeated sentence once, a sound-alike of a stop
command put back), then the STOP check
(``text.stopwords.find_stop`` -> ``workers.dialog.stopping.stop_intent``, sent before the wake
phrase, the grammar or the LLM), then the wake phrase stripped and
``workers.dialog.understanding.interpret``; for a command-like utterance ``intent_request`` ->
the LLM -> ``conclude``; the commands understood, less the leading stop the stop word already
sent (``stopping.without_leading_stop``). :class:`InProcessLlm` is the LLM worker's engine in
this process (``build_prompt`` + ``Generation`` on the configured backend): only the bus is
left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.understanding_score import Produced
from schemas.llm import LlmReply, LlmRequest
from text.stopwords import find_stop
from workers.dialog.actions import IntentLike
from workers.dialog.settings import DialogSettings
from workers.dialog.stopping import heard_words, stop_intent, without_leading_stop
from workers.dialog.understanding import conclude, intent_request, interpret
from workers.dialog.wake import WakeMatcher
from workers.llm.settings import LlmSettings

__all__ = ["DialogPath", "InProcessLlm"]


class InProcessLlm:
    """The LLM worker's engine in this process: ``build_prompt`` + ``Generation`` on the
    configured backend (the worker without its bus), loaded on first use."""

    def __init__(self, settings: LlmSettings) -> None:
        self.settings = settings
        self._backend: Any = None
        self.calls = 0

    def __call__(self, req: LlmRequest) -> LlmReply:
        from workers.llm.backends import make_backend
        from workers.llm.engine import Generation, build_prompt, start_in_think

        if self._backend is None:
            self._backend = make_backend(self.settings)
        self.calls += 1
        prompt = build_prompt(req, self.settings, self._backend)
        gen = Generation(
            self._backend,
            req,
            prompt,
            start_in_think=start_in_think(self.settings),
            tools=bool(prompt.tools),
        )
        reply = list(gen.run())[-1]
        assert isinstance(reply, LlmReply)
        return reply

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()


class DialogPath:
    """What the dialog does with a transcript, awake: the same functions it calls, in order
    (the STOP check; ``interpret``; for a command-like utterance ``intent_request`` -> the LLM
    -> ``conclude``). ``paths`` counts how each transcript was understood (``stop+`` in front
    when the stop word sent a STOP first)."""

    def __init__(
        self, settings: DialogSettings, llm: Callable[[LlmRequest], LlmReply] | None
    ) -> None:
        self.settings = settings
        self.llm = llm
        self.matcher = WakeMatcher(settings.wake_phrases) if settings.wake == "phrase" else None
        self.paths: dict[str, int] = {}
        self.path_of: dict[str, str] = {}
        """How each transcript was understood (the last time it was seen)."""

    def __call__(self, text: str, language: str) -> Produced:
        heard = text
        text = heard_words(text)  # as listening._heard reads it: echoes once, "start moving" a stop
        stop = find_stop(text)  # first, as listening.on_asr: awake or not, before all else
        sent: list[IntentLike] = [stop_intent(stop)] if stop is not None else []
        hit = self.matcher.match(text) if self.matcher is not None else None
        u = interpret(hit.rest if hit is not None else text, self.settings)
        path = f"{u.kind}/{u.source}" if u.source else u.kind
        if u.kind == "ask" and self.llm is not None:
            u = conclude(u, self.llm(intent_request(u, self.settings, "bench")), self.settings)
            path = f"ask->{u.kind}"
        if stop is not None:
            path = f"stop+{path}"
        if heard != text:
            path = f"reread+{path}"  # an echo dropped or a stop word put back
        self.paths[path] = self.paths.get(path, 0) + 1
        self.path_of[heard] = path
        then = list(u.intents) if u.kind == "commands" else []
        if stop is not None:
            then = without_leading_stop(then, stop.kind)
        return [*sent, *then] or None
