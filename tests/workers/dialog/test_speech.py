from workers.dialog.speech import ReplySpeech


def test_sentences_go_out_as_soon_as_complete_and_the_last_is_final():
    sp = ReplySpeech("t1", "en")
    assert sp.feed("Hello there") == []
    first = sp.feed(". How are")
    assert [r.text for r in first] == ["Hello there."] and first[0].index == 0
    assert not first[0].final
    rest = sp.finish()
    assert [(r.text, r.index, r.final) for r in rest] == [("How are", 1, True)]


def test_thinking_and_tool_blocks_are_never_spoken():
    sp = ReplySpeech("t1")
    out = sp.feed("secret plan. ", thinking=True)
    out += sp.feed('<think>more secrets.</think>Sure. <tool_call>{"kind": ')
    out += sp.feed('"stop"}</tool_call>')
    out += sp.finish()
    texts = [r.text for r in out]
    assert "Sure." in texts and not any("secret" in t or "kind" in t for t in texts)


def test_finish_with_nothing_left_sends_an_empty_final_marker():
    sp = ReplySpeech("t1")
    sp.feed("Done. ")
    fin = sp.finish()
    assert [(r.text, r.final) for r in fin] == [("", True)]


def test_extra_sentences_come_after_the_reply():
    sp = ReplySpeech("t1")
    out = sp.feed("Okay") + sp.finish("OK, moving forward 1 metre.")
    assert [r.text for r in out] == ["Okay", "OK, moving forward 1 metre."]
    assert out[-1].final and not out[0].final
