"""The dialog on the bus: natural commands, repairs, the LLM's intent, refusals always spoken."""

import json

from schemas.llm import LlmReply
from schemas.rtos import CarIntent
from tests.workers.dialog.harness import make


def spoken(h) -> list[str]:
    return [r.text for r in h.out("tts.request") if r.text]


def _cmds(h) -> list[dict]:
    return [
        c.model_dump(include={"kind", "distance_m", "angle_deg"}) for c in h.out("rtos.command")
    ]


def test_natural_phrasings_are_commands_without_the_llm():
    h = make(wake="always")
    h.utterance("s1", "Please drive forward two meters.")
    h.utterance("s2", "Stop the car!")
    h.utterance("s3", "后退半米", language="zh")
    assert h.out("llm.request") == []
    kinds = [(c.kind, c.distance_m) for c in h.out("rtos.command")]
    assert kinds == [("drive", 2.0), ("stop", 0.0), ("drive", -0.5)]
    assert spoken(h)[0] == "OK, moving forward 2 metres."


def test_a_misheard_command_is_repaired_and_sent():
    h = make(wake="always")
    h.utterance("s1", "Dry forward two meters.")
    (cmd,) = h.out("rtos.command")
    assert (cmd.kind, cmd.distance_m) == ("drive", 2.0) and h.out("llm.request") == []


def test_a_lost_amount_is_refused_aloud_and_nothing_is_sent_or_asked():
    h = make(wake="always")
    h.utterance("s1", "Go back at the meter.")
    assert h.out("rtos.command") == [] and h.out("llm.request") == []
    assert spoken(h) == ["Sorry, I did not catch how far.", "Please say the command again."]
    assert h.out("tts.request")[-1].final


def test_an_unparsed_command_asks_the_llm_for_intents_and_never_speaks_its_json():
    h = make(wake="always")
    h.utterance("s1", "forward drive two meters and back one meter")
    (req,) = h.out("llm.request")
    assert req.intent_schema and json.loads(req.intent_schema)["anyOf"][0] == {"type": "null"}
    answer = '[{"kind":"drive","distance_m":2.0},{"kind":"drive","distance_m":-1.0}]'
    intents = (CarIntent(kind="drive", distance_m=2.0), CarIntent(kind="drive", distance_m=-1.0))
    h.llm_says("s1", answer[:20], answer[20:], intents=intents)
    assert all("kind" not in s for s in spoken(h))
    assert spoken(h) == ["OK, moving forward 2 metres, then moving backward 1 metre."]
    assert [(c.kind, c.distance_m) for c in h.out("rtos.command")] == [("drive", 2.0)]
    assert h.out("tts.request")[-1].final


def test_an_llm_intent_the_words_do_not_support_is_refused_aloud():
    h = make(wake="always")
    h.utterance("s1", "forward drive two meters and back one meter")
    made_up = (CarIntent(kind="drive", distance_m=2.0), CarIntent(kind="drive", distance_m=1.0))
    h.llm_says("s1", "[...]", intents=made_up)
    assert h.out("rtos.command") == []
    assert spoken(h) == ["Sorry, I did not understand that command."]


def test_no_intent_a_garbled_one_or_a_failed_llm_is_always_spoken():
    for reply in (
        LlmReply(request_id="s1", text="null"),
        LlmReply(request_id="s1", text="{", intent_error="The intents answer is not valid JSON."),
        LlmReply(request_id="s1", text="", finish_reason="error", error="boom"),
    ):
        h = make(wake="always")
        h.utterance("s1", "left ninety degrees turn")
        h.send("llm.reply", reply, "s1")
        assert h.out("rtos.command") == []
        said = spoken(h)
        assert said and said[0].startswith("Sorry"), reply
        assert h.out("tts.request")[-1].final


def test_an_intent_answer_is_kept_out_of_the_conversation_history():
    h = make(wake="always")
    h.utterance("s1", "left ninety degrees turn")
    h.llm_says(
        "s1",
        '[{"kind":"turn","angle_deg":90.0}]',
        intents=(CarIntent(kind="turn", angle_deg=90.0),),
    )
    h.tts_plays()
    h.utterance("s2", "what is the capital of France?")
    req = h.out("llm.request")[-1]
    assert [m.role for m in req.messages] == ["system", "user"]


def test_a_bounds_refusal_of_an_understood_command_is_spoken():
    h = make(wake="always")
    h.utterance("s1", "Drive forward ten meters.")
    assert h.out("rtos.command") == []
    assert spoken(h)[0].startswith("Sorry, I can't do that: 10 metres")


def test_a_looping_answer_is_spoken_once():
    h = make(wake="always")
    h.utterance("s1", "tell me about the car")
    loop = "I'm going to stop the car. " * 4
    h.llm_says("s1", *[loop[i : i + 7] for i in range(0, len(loop), 7)], "I am Robo.")
    assert spoken(h) == ["I'm going to stop the car.", "I am Robo."]
    h.tts_plays()
    h.utterance("s2", "and then?")
    history = [m.content for m in h.out("llm.request")[-1].messages if m.role == "assistant"]
    assert history == ["I'm going to stop the car. I am Robo."]


def test_a_forbidden_command_moves_nothing_asks_nothing_and_is_acknowledged():
    h = make(wake="always")
    h.utterance("s1", "Don't turn left.")
    h.utterance("s2", "Please do not drive forward two meters.")
    h.utterance("s3", "不要往前走两米", language="zh")
    h.utterance("s4", "Drive forward two meters, never mind.")
    h.utterance("s5", "please don't revers")  # the repair makes the negation readable
    assert h.out("rtos.command") == [] and h.out("llm.request") == []
    assert spoken(h) == ["OK, I won't.", "OK, I won't.", "好的，我不动。"] + ["OK, I won't."] * 2


def test_a_correction_does_only_what_was_said_last():
    h = make(wake="always")
    h.utterance("s1", "Don't turn left, turn right.")
    h.utterance("s2", "Turn left, no, turn right.")
    h.utterance("s3", "左转，不对，右转", language="zh")
    assert _cmds(h) == [{"kind": "turn", "distance_m": 0.0, "angle_deg": -90.0}] * 3
    assert h.out("llm.request") == []


def test_a_command_the_recogniser_wrote_twice_in_a_row_drives_once():
    h = make(wake="always")
    h.utterance("s1", "Hey, back up two meters. Hey, back up two meters.")  # tiny.en on piper
    h.utterance("s2", "reverse 1 meter, reverse, reverse,")  # a loop's tail (blind tuning split)
    assert _cmds(h) == [
        {"kind": "drive", "distance_m": -2.0, "angle_deg": 0.0},
        {"kind": "drive", "distance_m": -1.0, "angle_deg": 0.0},
    ]


def test_a_self_correction_that_names_only_what_changed_does_the_corrected_command():
    h = make(wake="always")
    h.utterance("s1", "Turn left, sorry, I mean right.")
    h.utterance("s2", "Drive forward two meters, no, three.")
    h.utterance("s3", "往前走两米，不对，三米", language="zh")
    h.utterance("s4", "Turn left, no, three.")  # fits nothing: no command, no number guessed
    got = [(c["kind"], c["angle_deg"] or c["distance_m"]) for c in _cmds(h)]
    assert got == [("turn", -90.0), ("drive", 3.0), ("drive", 3.0)]


def test_a_negated_drive_with_a_stop_word_stops_the_car_once_without_the_llm():
    # "don't move" is a stop form: the STOP goes out at once; "forward yet" drives nothing and
    # the LLM is not asked what it means (it was, taking 600-900 ms: bench.e2e's slowest line).
    h = make(wake="always")
    h.utterance("s1", "Don't move forward yet.")
    assert [c.kind for c in h.out("rtos.command")] == ["stop"]
    assert h.out("llm.request") == []
    assert spoken(h) == ["OK, stopping."]
