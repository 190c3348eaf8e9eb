"""bench.llm's arithmetic and labels (the measurement itself is a program, not a test)."""

from __future__ import annotations

import pytest

from bench.llm import RKLLM_PUBLISHED
from bench.llmrig import figures


def test_figures_separate_first_token_time_from_generation_speed() -> None:
    fig = figures(10.0, [10.5, 10.6, 10.7, 10.8])
    assert fig["ttft_ms"] == pytest.approx(500.0)
    assert fig["tokens_per_s"] == pytest.approx(10.0)
    assert fig["tokens"] == 4


def test_no_tokens_gives_zeros_not_an_error() -> None:
    assert figures(1.0, []) == {"ttft_ms": 0.0, "tokens_per_s": 0.0, "tokens": 0}


def test_rkllm_figures_are_labelled_as_published() -> None:
    label = str(RKLLM_PUBLISHED["label"])
    assert "published" in label and "not measured" in label
    assert RKLLM_PUBLISHED["platform"] == "RK3588"
