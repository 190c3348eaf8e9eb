"""Intents: the tool schema is CarIntent (RtosCommand less the sender's fields); garbled tool calls
are refused with their text kept, never guessed."""

from __future__ import annotations

import pytest

from schemas.rtos import CarIntent, RtosCommand
from text.intents import (
    TOOL_NAME,
    ToolArguments,
    intent_schema,
    parse_intent,
    parse_intents,
    tool_definition,
    tool_prompt,
)


def test_car_intent_is_rtos_command_without_the_sender_fields() -> None:
    sender = {"cmd_id", "ttl_ms", "source"}
    assert set(CarIntent.model_fields) == set(RtosCommand.model_fields) - sender
    for name, field in CarIntent.model_fields.items():
        assert RtosCommand.model_fields[name].annotation == field.annotation
        assert RtosCommand.model_fields[name].default == field.default


def test_schema_follows_rtos_command_without_sender_fields() -> None:
    props = set(intent_schema()["properties"])
    assert props == set(RtosCommand.model_fields) - {"cmd_id", "ttl_ms", "source"}
    assert intent_schema()["additionalProperties"] is False
    kinds = intent_schema()["properties"]["kind"]["enum"]
    assert "stop" in kinds and "turn" in kinds


def test_tool_definition_and_prompt_carry_the_schema() -> None:
    fn = tool_definition()["function"]
    assert fn["name"] == TOOL_NAME and fn["parameters"] == intent_schema()
    assert TOOL_NAME in tool_prompt() and '"kind"' in tool_prompt()


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "rtos_command", "arguments": {"kind": "turn", "angle_deg": 90}}',
        '{"name": "rtos_command", "arguments": "{\\"kind\\": \\"turn\\", \\"angle_deg\\": 90}"}',
        '{"kind": "turn", "angle_deg": 90}',
    ],
)
def test_valid_calls_in_each_accepted_form(text: str) -> None:
    result = parse_intent(text)
    assert not result.error and not result.refused
    (intent,) = result.intents
    assert type(intent) is CarIntent and intent == CarIntent(kind="turn", angle_deg=90.0)
    assert intent.model_fields_set == {"kind", "angle_deg"}
    # What comes out is enough to build the real command.
    assert RtosCommand(cmd_id=1, **intent.model_dump()).angle_deg == 90.0


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"kind": "turn", "angle_deg": 90', "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"name": "self_destruct", "arguments": {}}', "unknown tool"),
        ('{"kind": "fly"}', "refused by the schema: kind"),
        ('{"kind": "drive", "linear_mps": "0.5"}', "linear_mps"),
        ('{"kind": "drive", "speed": 1}', "speed"),
        ('{"kind": "stop", "cmd_id": 7}', "cmd_id"),
        ('{"angle_deg": 90}', "kind"),
        ('{"name": "rtos_command", "arguments": 5}', "arguments are not a JSON object"),
    ],
)
def test_garbled_calls_are_reported_never_guessed(text: str, why: str) -> None:
    result = parse_intent(text)
    assert result.intents == ()
    assert why in result.error and result.error.endswith(".")
    assert result.refused == text  # nothing the model wrote is lost


def test_plain_answers_are_not_intents() -> None:
    assert parse_intent(None, "Sure, the weather is fine.") == parse_intent(None, "")
    assert parse_intent(None, "Sure.").intents == ()


def test_an_answer_that_is_only_json_counts_as_an_attempt() -> None:
    assert parse_intent(None, '```json\n{"kind": "stop"}\n```').intents == (CarIntent(kind="stop"),)
    assert parse_intent(None, '{"kind": "stop"').error


def test_the_intent_model_is_strict_and_closed() -> None:
    assert ToolArguments.model_config.get("extra") == "forbid"
    assert ToolArguments.model_config.get("strict") is True
    # ...while the wire model stays tolerant, as every message model is.
    assert CarIntent.model_config.get("extra") == "ignore"


def test_several_tool_blocks_give_a_list_in_order() -> None:
    blocks = ['{"kind": "turn", "angle_deg": 90}', '{"kind": "drive", "distance_m": 1.0}']
    result = parse_intents(blocks)
    assert result.intents == (
        CarIntent(kind="turn", angle_deg=90.0),
        CarIntent(kind="drive", distance_m=1.0),
    )


def test_one_bad_block_refuses_the_whole_sequence() -> None:
    blocks = ['{"kind": "turn", "angle_deg": 90}', '{"kind": "jump"}']
    result = parse_intents(blocks)
    assert result.intents == () and result.error.startswith("Tool call 2 of 2:")
    assert all(b in result.refused for b in blocks)
