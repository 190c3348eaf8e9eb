"""A transcript that writes the decoder's prompt back has it taken out (workers/asr/echo.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from tests.workers.asr.test_asr_hotwords import _Model, _recognizer
from workers.asr.echo import strip_prompt_echo
from workers.asr.whisper import ZH_PROMPT

HOTWORDS = "drive forward, go back, turn left, turn right, spin around, stop, halt, meters"


def test_the_prompt_alone_leaves_nothing():
    assert strip_prompt_echo("以下是普通话的句子。", [ZH_PROMPT]) == ""
    assert strip_prompt_echo("以下是普通话的句子", [ZH_PROMPT]) == ""
    assert strip_prompt_echo("以下是普通话的句子。以下是普通话的句子。", [ZH_PROMPT]) == ""
    assert strip_prompt_echo("普通话的句子。", [ZH_PROMPT]) == ""  # its tail (6 of 9)
    assert strip_prompt_echo(HOTWORDS.title() + ".", [HOTWORDS]) == ""  # case aside


def test_what_was_said_around_the_echo_stays():
    assert strip_prompt_echo("以下是普通话的句子。停车。", [ZH_PROMPT]) == "停车。"
    assert strip_prompt_echo("以义, 以下是普通话的句子。", [ZH_PROMPT]) == "以义"
    assert strip_prompt_echo("往前走, 以下是普通话的句子。 两米", [ZH_PROMPT]) == "往前走, 两米"
    assert strip_prompt_echo(f"{HOTWORDS}. Stop!", [HOTWORDS]) == "Stop!"


def test_words_of_the_prompt_said_on_their_own_are_kept():
    for said in ("这是普通话吗？", "句子", "停车。", "普通话"):
        assert strip_prompt_echo(said, [ZH_PROMPT]) == said
    for said in ("Drive forward two meters.", "Turn left, turn right.", "Stop, halt!", "go back"):
        assert strip_prompt_echo(said, [HOTWORDS]) == said
    assert strip_prompt_echo("以下是普通话的句子。", []) == "以下是普通话的句子。"
    assert strip_prompt_echo("", [ZH_PROMPT]) == ""


def test_the_recogniser_answers_an_echo_of_its_chinese_prompt_with_no_speech():
    rec, _ = _recognizer("zh", {})
    rec._model = model = _Model([[SimpleNamespace(text=ZH_PROMPT, compression_ratio=1.0)]])
    heard = rec.transcribe(np.zeros(16000, dtype=np.float32))
    assert model.options[-1]["initial_prompt"] == ZH_PROMPT
    assert (heard.text, heard.language, heard.event) == ("", "", "")
    assert rec.echoes == 1
    rec._model = _Model([[SimpleNamespace(text=f"{ZH_PROMPT}停车", compression_ratio=1.0)]])
    heard = rec.transcribe(np.zeros(16000, dtype=np.float32))
    assert (heard.text, heard.language) == ("停车", "zh")
    assert rec.echoes == 2


def test_the_recogniser_never_takes_its_hotwords_for_an_echo():
    # the hotwords are commands: "drive forward" said is "drive forward" heard
    rec, _ = _recognizer("en", {"en": "drive forward"})
    rec._model = _Model([[SimpleNamespace(text=" Drive forward.", compression_ratio=1.1)]])
    assert rec.transcribe(np.zeros(16000, dtype=np.float32)).text == "Drive forward."
    rec, _ = _recognizer("en", {"en": HOTWORDS})
    rec._model = _Model([[SimpleNamespace(text=" " + HOTWORDS, compression_ratio=1.2)]])
    assert rec.transcribe(np.zeros(16000, dtype=np.float32)).text == HOTWORDS
    assert rec.echoes == 0
