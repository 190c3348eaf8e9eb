"""bench.stopcheck's figures: recall on stop lines, false STOPs on lines without a stop word."""

from __future__ import annotations

from bench.stopcheck import figures, markdown


def _file(split: str, wants: bool, word: bool, main: bool, check: str | None) -> dict:
    return {
        "corpus": "c.yaml", "path": f"x__{'piper-ls1.2__clean'}.wav", "split": split,
        "wants_stop": wants, "stop_word": word, "reference": "ref", "audio_s": 1.0, "main": "m",
        "main_ms": 150.0, "checked": not main, "check_ms": None if main else 240.0,
        "check_stop": check, "stop_main": main, "stop_with_check": main or check is not None,
    }  # fmt: skip


def test_recall_and_false_stops_are_counted_apart_per_split_and_over_all() -> None:
    files = [
        _file("held", True, True, True, None),  # heard by the main recogniser
        _file("held", True, True, False, "Halt!"),  # only by the check
        _file("held", True, True, False, None),  # missed by both
        _file("held", False, False, False, "halt the horn"),  # a STOP the check added
        _file("held", False, True, True, None),  # a tolerated stop word: in neither count
        _file("tune", False, False, False, None),
    ]
    g = figures(files)["all/held"]
    assert (g["stop_files"], g["recall_main"], g["recall_with_check"]) == (3, 1, 2)
    assert (g["no_stop_word_files"], g["false_stops_main"], g["false_stops_with_check"]) == (
        1, 0, 1,
    )  # fmt: skip
    assert g["added_false_stops"] == ["ref -> 'halt the horn'"] and len(g["still_missed"]) == 1
    assert g["checked"] == 3 and g["check_ms_p50"] == 240.0
    assert figures(files)["c.yaml/tune"]["stop_files"] == 0
    host = {"machine": "x", "cpus": 2, "loadavg_at_start": [0], "loadavg_at_end": [0], "wall_s": 1}
    page = markdown({"figures": figures(files), "host": host, "started": "t", "settings": "{}"})
    assert "| all/held | 1/3 (33.3 %) | 2/3 (66.7 %) |" in page
