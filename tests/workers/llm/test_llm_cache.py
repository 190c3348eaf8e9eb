"""The prompt cache's lean states fall back to llama-cpp-python's own save and restore."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from workers.llm.backends import llamacache
from workers.llm.backends.llamacache import lean_restore, lean_state, state_bytes


class _Library:
    """What llama-cpp-python's ``Llama`` offers when its private attributes are not there."""

    saved: list[str]
    loaded: list[Any]

    def save_state(self) -> str:
        self.saved.append("the library's")
        return "the library's state"

    def load_state(self, state: Any) -> None:
        self.loaded.append(state)


def _llm(**attrs: Any) -> _Library:
    llm = _Library()
    llm.saved, llm.loaded = [], []
    llm.__dict__.update(attrs)
    return llm


def test_without_the_private_api_a_state_is_saved_the_library_way_and_that_is_logged_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llamacache, "_WARNED", [])
    llm = _llm()  # no _logits_all, no _ctx
    with caplog.at_level(logging.WARNING, logger=llamacache.__name__):
        assert lean_state(llm) == lean_state(llm) == "the library's state"
    assert llm.saved == ["the library's", "the library's"]
    assert sum("lean_state" in r.message for r in caplog.records) == 1


def test_a_model_with_logits_for_every_token_keeps_the_librarys_save_and_restore() -> None:
    llm = _llm(_logits_all=True)
    assert lean_state(llm) == "the library's state"
    state = SimpleNamespace(scores=np.zeros((1, 4), dtype=np.single))
    lean_restore(llm, state)
    assert llm.loaded == [state]


def test_a_state_with_its_logits_rows_is_restored_the_library_way() -> None:
    llm = _llm(_logits_all=False)
    state = SimpleNamespace(scores=np.zeros((3, 4), dtype=np.single))
    lean_restore(llm, state)
    assert llm.loaded == [state]


def test_a_state_counts_its_kv_bytes_its_logits_and_its_tokens() -> None:
    state = SimpleNamespace(
        llama_state_size=1000,
        scores=np.zeros((2, 10), dtype=np.single),
        input_ids=np.zeros(16, dtype=np.intc),
    )
    assert state_bytes(state) == 1000 + 80 + 64
