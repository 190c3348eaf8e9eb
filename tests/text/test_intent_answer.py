"""An intents-only answer: its schema derived from CarIntent, narrowed; its validation."""

import json

from llama_cpp import LlamaGrammar

from schemas.rtos import CarIntent
from text.intent_answer import KIND_FIELDS, MAX_INTENTS, answer_schema, parse_answer


def test_the_full_schema_has_one_object_per_spoken_kind_with_car_intent_s_field_types():
    schema = answer_schema()
    null, array = schema["anyOf"]
    assert null == {"type": "null"} and array["maxItems"] == MAX_INTENTS
    items = array["items"]["anyOf"]
    kinds = [i["properties"]["kind"]["const"] for i in items]
    assert sorted(set(kinds)) == sorted(KIND_FIELDS) and "reset" not in kinds
    drive = [i for i in items if i["properties"]["kind"]["const"] == "drive"]
    assert [sorted(d["required"]) for d in drive] == [
        ["distance_m", "kind"],
        ["duration_ms", "kind", "linear_mps"],
    ]
    assert drive[0]["properties"]["distance_m"] == {"type": "number"}
    assert drive[1]["properties"]["duration_ms"] == {"type": "integer"}
    assert all(i["additionalProperties"] is False for i in items)


def test_a_narrowed_schema_allows_only_the_values_given():
    schema = answer_schema(
        {"drive": {"distance_m": [2.0, -1.0], "duration_ms": []}, "stop": {}}, max_items=2
    )
    array = schema["anyOf"][1]
    assert array["maxItems"] == 2
    drive, stop = array["items"]["anyOf"]
    assert drive["properties"]["distance_m"] == {"enum": [-1.0, 2.0]}
    assert stop["properties"] == {"kind": {"const": "stop"}}
    assert answer_schema({}) == {"type": "null"}
    LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)  # llama.cpp takes it


def test_an_answer_is_validated_like_a_tool_call():
    assert parse_answer("null").intents == () and not parse_answer("null").error
    assert parse_answer(" [] ").intents == ()
    ok = parse_answer('[{"kind": "turn", "angle_deg": -90}, {"kind": "stop"}]')
    assert ok.intents == (CarIntent(kind="turn", angle_deg=-90.0), CarIntent(kind="stop"))
    assert parse_answer('{"kind": "stop"}').intents == (CarIntent(kind="stop"),)
    bads = ['[{"kind": "drive", "distnce_m": 1}]', '[{"kind": "fly"}]', "[1]", "Sure!",
            '[{"kind": "drive", "distance_m": "1"}]', '[{"kind": "stop"}']  # fmt: skip
    for bad in bads:
        res = parse_answer(bad)
        assert res.intents == () and res.error and res.refused == bad, bad
    too_many = json.dumps([{"kind": "stop"}] * (MAX_INTENTS + 1))
    assert parse_answer(too_many).error
    block = '{"name": "rtos_command", "arguments": {"kind": "estop"}}'
    assert parse_answer("", [block]).intents == (CarIntent(kind="estop"),)
