"""The keyword spotter example: its pure matching and its loop on the in-memory bus."""

from __future__ import annotations

from pathlib import Path

import pytest
import spotter
from spotter_manifest import MANIFEST

from bus import ConfigError, MemoryBus, payload_as
from schemas import AsrText
from tests.workers.cannot_run import cannot_run


def test_normalise_drops_case_and_punctuation() -> None:
    assert spotter.normalise("  Lights, ON!  please ") == "lights on please"


def test_spot_finds_whole_words_in_the_order_said() -> None:
    hits = spotter.spot("Lights on. No wait, STOP!", ["stop", "lights on", "lights off"])
    assert hits == [("lights on", 0), ("stop", 18)]


def test_spot_ignores_a_keyword_inside_another_word() -> None:
    assert spotter.spot("start the stopwatch, stop_all", ["stop"]) == []


def test_spot_reports_a_repeated_keyword_each_time() -> None:
    assert [k for k, _ in spotter.spot("stop, stop", ["stop"])] == ["stop", "stop"]


def test_spot_matches_cjk_keywords_inside_unspaced_text() -> None:
    assert spotter.spot("请帮我开灯谢谢", ["开灯"]) == [("开灯", 3)]


def test_spot_skips_an_empty_keyword() -> None:
    assert spotter.spot("stop", ["", "!!"]) == []


def test_settings_reject_an_unknown_key_with_its_path() -> None:
    node = MemoryBus().node("spotter", {"keyword": ["stop"]})
    with pytest.raises(ConfigError, match=r"settings\.keyword: unknown key"):
        node.settings_as(spotter.Settings)


def test_run_publishes_one_event_per_keyword_with_the_turns_trace() -> None:
    bus = MemoryBus()
    asr, probe = bus.node("asr"), bus.node("probe")
    worker = bus.node("spotter", {"keywords": ["stop", "lights on"]}, manifest=MANIFEST)
    probe.subscribe("ext.spotter.*")
    asr.publish("asr.text", AsrText(text="Lights on, then stop.", segment_id="t1"), trace="t1")
    asr.publish("asr.text", AsrText(text="nothing here", segment_id="t2"), trace="t2")

    spotter.run(worker)

    got = [payload_as(m, spotter.KeywordSpotted) for m in probe]
    assert [(k.keyword, k.segment_id) for k in got] == [("lights on", "t1"), ("stop", "t1")]
    assert "spotter" in bus.ready


@pytest.mark.slow
def test_the_spotter_without_keywords_cannot_run_and_names_the_key(tmp_path: Path) -> None:
    folder = Path(spotter.__file__).parent
    reason = cannot_run("spotter", {"keywords": []}, tmp_path, cwd=folder)
    assert reason.startswith("Invalid settings of worker 'spotter': settings.keywords: ")
