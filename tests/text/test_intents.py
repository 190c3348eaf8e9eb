"""Intents: the schema is derived from RtosCommand; garbled tool calls are refused, not guessed."""

from __future__ import annotations

import json

import pytest

from schemas.rtos import RtosCommand
from text.intents import (
    TOOL_NAME,
    IntentModel,
    intent_schema,
    parse_intent,
    parse_intents,
    tool_definition,
    tool_prompt,
)


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
    assert not result.error
    assert json.loads(result.intent_json) == {"kind": "turn", "angle_deg": 90.0}
    # What comes out is enough to build the real command.
    RtosCommand(cmd_id=1, **json.loads(result.intent_json))


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
    assert result.intent_json == ""
    assert why in result.error


def test_plain_answers_are_not_intents() -> None:
    assert parse_intent(None, "Sure, the weather is fine.") == parse_intent(None, "")
    assert parse_intent(None, "Sure.").intent_json == ""


def test_an_answer_that_is_only_json_counts_as_an_attempt() -> None:
    assert parse_intent(None, '```json\n{"kind": "stop"}\n```').intent_json == '{"kind":"stop"}'
    assert parse_intent(None, '{"kind": "stop"').error


def test_the_intent_model_is_strict_and_closed() -> None:
    assert IntentModel.model_config.get("extra") == "forbid"
    assert IntentModel.model_config.get("strict") is True


def test_several_tool_blocks_give_a_list_in_order() -> None:
    blocks = ['{"kind": "turn", "angle_deg": 90}', '{"kind": "drive", "distance_m": 1.0}']
    result = parse_intents(blocks)
    assert json.loads(result.intent_json) == [
        {"kind": "turn", "angle_deg": 90.0},
        {"kind": "drive", "distance_m": 1.0},
    ]


def test_one_bad_block_refuses_the_whole_sequence() -> None:
    result = parse_intents(['{"kind": "turn", "angle_deg": 90}', '{"kind": "jump"}'])
    assert result.intent_json == "" and result.error.startswith("Tool call 2 of 2:")
