"""bench.e2e's figures: lines matched to turns, segment-closed and after-close rows kept apart."""

from __future__ import annotations

from bench.e2ereport import summarise, table


def test_rows_per_set_and_system_and_the_stop_and_bus_figures():
    lines = [
        {"id": "script-0", "kind": "question", "text": "What is the capital of France?"},
        {"id": "wake", "kind": "greeting", "text": "Hey robot."},
        {"id": "en-stop-06", "kind": "stop", "text": "Please stop now."},
    ]
    turn = {"outcome": "answered", "vad_close_ms": 400.0, "end_to_end_ms": 650.0, "bus_ms": 3.25,
            "speculative": True, "llm_ttft_ms": 50.0,
            "bus_detail_ms": {"asr.text": 0.5, "vad.segment": 2.75}}  # fmt: skip
    stop = {"outcome": "command", "vad_close_ms": 410.0, "end_to_end_ms": 450.0, "bus_ms": 2.0,
            "stop_ms": 260.0}  # fmt: skip
    rnd = {
        "voicebus": [
            {"line": 0, "metrics": turn},
            {"line": 0, "metrics": {**turn, "end_to_end_ms": 9999.0}},  # a second turn: not it
            {"line": 1, "metrics": {"outcome": "ignored"}},
            {"line": 2, "metrics": stop},
        ],
        "reference": [
            {"line": 0, "close_ms": 1100.0, "asr_ms": 300.0, "llm_ms": 900.0, "tts_ms": 20.0},
            {"line": 2, "close_ms": 1200.0, "asr_ms": 300.0, "llm_ms": 800.0, "tts_ms": 20.0},
        ],
    }
    s = summarise(lines, [rnd, rnd])
    script, corpus = s["sets"]["script"], s["sets"]["corpus"]
    assert script["voicebus"]["segment_closed_ms"]["p50"] == 400.0
    assert script["voicebus"]["after_close_ms"]["p50"] == 250.0
    assert script["voicebus"]["end_to_end_ms"] == {"n": 2, "p50": 650.0, "p90": 650.0, "max": 650.0}
    assert script["reference"]["after_close_ms"]["p50"] == 1220.0
    assert script["voicebus"]["bus_share_pct"]["p50"] == 0.5
    assert script["voicebus"]["bus_detail_ms_p50"] == {"asr.text": 0.5, "vad.segment": 2.75}
    assert corpus["voicebus"]["bus_detail_ms_p50"] == {}  # its turn carried none (older runs)
    assert corpus["lines"] == 1  # the wake line is not counted
    ring = {"n": 2, "p50": 260.0, "p90": 260.0, "max": 260.0}
    assert corpus["stop"] == {"lines": 1, "stopped": 2, "tries": 2, "ring_ms": ring}
    text = table(s)
    assert "segment_closed" in text and "after_close" in text and "2 of 2 stop-word lines" in text
    assert "'vad.segment': 2.75" in text
