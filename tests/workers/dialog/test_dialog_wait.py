"""``llm.wait``: the dialog says a short "one moment" and waits for the answer instead of
apologising at its first-token deadline."""

from __future__ import annotations

from schemas.llm import LlmRequest, LlmWait
from tests.workers.dialog.harness import Harness


def asked(h: Harness) -> LlmRequest:
    h.utterance("s1", "tell me a story")
    [req] = h.out("llm.request")
    return req


def test_a_long_wait_is_announced_once_before_the_answer() -> None:
    h = Harness(wake="always", warm_up=False, llm_first_token_timeout_s=5)
    req = asked(h)
    h.clear()
    wait = LlmWait(request_id=req.request_id, reason="orphan", waited_ms=1500, budget_ms=20000)
    h.send("llm.wait", wait, req.request_id)
    [notice] = h.out("tts.request")
    assert notice.text == "One moment, please." and not notice.final
    assert notice.turn_id == "s1" and notice.index == 0
    h.send("llm.wait", wait, req.request_id)  # never twice
    assert len(h.out("tts.request")) == 1
    # The first-token deadline (5 s) now allows the announced wait: no apology, no abort.
    h.advance(10)
    assert not h.out("llm.abort")
    h.llm_says(req.request_id, "Once upon a time.")
    texts = [r.text for r in h.out("tts.request")]
    assert texts[0] == "One moment, please." and "Once upon a time." in texts
    assert [r.index for r in h.out("tts.request")] == list(range(len(texts)))
    assert h.out("tts.request")[-1].final


def test_the_deadline_still_holds_after_the_announced_wait() -> None:
    h = Harness(wake="always", warm_up=False, llm_first_token_timeout_s=5)
    req = asked(h)
    h.send("llm.wait", LlmWait(request_id=req.request_id, budget_ms=2000), req.request_id)
    h.advance(8)  # 2 s budget + 5 s first-token timeout
    assert h.out("llm.abort") and h.out("llm.abort")[0].reason == "timeout"


def test_a_wait_for_another_request_is_ignored() -> None:
    h = Harness(wake="always", warm_up=False)
    asked(h)
    h.clear()
    h.send("llm.wait", LlmWait(request_id="someone-else", budget_ms=1000), "x")
    assert not h.out("tts.request")


def test_the_notice_is_in_the_language_of_the_turn() -> None:
    h = Harness(wake="always", warm_up=False)
    h.utterance("s1", "给我讲个故事", language="zh")
    [req] = h.out("llm.request")
    h.clear()
    h.send("llm.wait", LlmWait(request_id=req.request_id, budget_ms=1000), req.request_id)
    assert h.out("tts.request")[0].text == "请稍等。"
