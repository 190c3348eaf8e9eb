"""bench.stopcheck's figures: recall on stop lines, false STOPs on lines without a stop word."""

from __future__ import annotations

from bench.stopcheck import figures, markdown


def _file(split: str, wants: bool, word: bool, main: bool, check: str | None) -> dict:
    return {
        "corpus": "c.yaml", "path": f"x__{'piper-ls1.2__clean'}.wav", "split": split,
        "wants_stop": wants, "stop_word": word, "reference": "ref", "audio_s": 1.0, "main": "m",
        "main_ms": 150.0, "checked": not main, "check_ms": None if main else 240.0,
        "check_stop": check, "stop_main": main, "stop_with_check": main or check is not None,
        "alternatives_ms": None if main else 80.0, "alternatives_stop": None,
        "stop_with_both": main or check is not None,
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


def test_the_hypotheses_step_counts_with_the_check_and_its_time_as_the_worker_spends_it() -> None:
    def f(wants: bool, word: bool, alt: str | None, check: str | None) -> dict:
        d = _file("held", wants, word, False, check)
        d.update(alternatives_ms=80.0, alternatives_stop=alt,
                 stop_with_both=alt is not None or check is not None)  # fmt: skip
        return d

    files = [
        f(True, True, "freeze,", None),  # only the hypotheses: the check model not needed
        f(True, True, "freeze,", "Freeze!"),  # both
        f(True, True, None, "Halt!"),  # only the check model
        f(False, False, "turn right, stop", None),  # a STOP the hypotheses added
        f(False, False, None, None),
    ]
    g = figures(files)["all/held"]
    assert (g["recall_with_check"], g["recall_with_both"]) == (2, 3)
    assert (g["false_stops_with_check"], g["false_stops_with_both"]) == (0, 1)
    assert g["recovered_by_alternatives_only"] == ["ref (piper-ls1.2__clean): 'm' -> 'freeze,'"]
    assert g["added_false_stops"] == ["ref -> 'turn right, stop'"] and g["still_missed"] == []
    # the worker asks the check model only when the hypotheses held no stop word
    # (80 + 240 where they held none): 80, 80, 320, 80, 320
    assert (g["alternatives_ms_p50"], g["worker_ms_p50"], g["worker_ms_p90"]) == (80.0, 80.0, 320.0)
